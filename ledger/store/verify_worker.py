"""A `ledger verify` worker process: verifies the chain segments it is sent.

Started by `ledger.store.verify` as `python -m ledger.store.verify_worker`, a plain
subprocess rather than `multiprocessing`, which would re-import the caller's main
module in every worker (and fail in any script without a `__main__` guard).

Protocol, one JSON object per line. stdin: first {"dsn", "snapshot"}, then
{"chain", "first_seq", "last_seq"} per segment; stdout: one result per segment, in
order (`SegmentResult` fields). The worker stops at the end of stdin.
"""

from __future__ import annotations

import asyncio
import gc
import json
import sys
from dataclasses import asdict
from typing import Any

from ledger.store.verify import Segment, connect, verify_segment_in_snapshot


def segment_from_json(line: str) -> Segment:
    fields: dict[str, Any] = json.loads(line)
    return Segment(int(fields["chain"]), int(fields["first_seq"]), int(fields["last_seq"]))


def main() -> None:
    # Each segment allocates tens of thousands of short-lived rows that form no cycles;
    # the cyclic collector would only keep rescanning them.
    gc.disable()
    setup: dict[str, Any] = json.loads(sys.stdin.readline())
    dsn, snapshot = str(setup["dsn"]), str(setup["snapshot"])
    with asyncio.Runner() as runner:
        connection = runner.run(connect(dsn))
        try:
            for line in sys.stdin:
                segment = segment_from_json(line)
                result = runner.run(verify_segment_in_snapshot(connection, segment, snapshot))
                sys.stdout.write(json.dumps(asdict(result)) + "\n")
                sys.stdout.flush()
        finally:
            runner.run(connection.close())


if __name__ == "__main__":
    main()
