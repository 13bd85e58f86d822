"""The worker's state file, for operators and `ledger status`.

`$LEDGER_HOME/run/worker-<workspace>-<pid>.json`, replaced atomically (temporary file
and rename) so a reader never sees half a file; removed when the worker exits. A file
whose process is gone (SIGKILL, power loss) is stale: readers skip it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from infra.common import process_is_alive, write_text_atomic
from streams.supervision import WorkerSnapshot, utc_text

worker_state_files_max = 64  # read at most this many per workspace (one per live worker)


def run_dir(home: Path) -> Path:
    return home / "run"


def worker_state_path(home: Path, workspace: str, pid: int) -> Path:
    return run_dir(home) / f"worker-{workspace}-{pid}.json"


def worker_state_document(pid: int, workspace: str, snapshot: WorkerSnapshot) -> dict[str, Any]:
    """The file's JSON shape (read by `ledger status`: keep it exactly)."""
    return {
        "pid": pid,
        "workspace": workspace,
        "state": snapshot.state,
        "since": utc_text(snapshot.since),
        "updated_at": utc_text(snapshot.updated_at),
        "partitions": {
            str(partition): {
                "next_offset": position.next_offset,
                "last_batch_at": (
                    utc_text(position.last_batch_at) if position.last_batch_at else None
                ),
            }
            for partition, position in sorted(snapshot.partitions.items())
        },
    }


class WorkerStateFile:
    """A `WorkerMonitor` listener writing this process's state file."""

    def __init__(self, home: Path, workspace: str, pid: int | None = None) -> None:
        self.pid = os.getpid() if pid is None else pid
        self.workspace = workspace
        self.path = worker_state_path(home, workspace, self.pid)

    def __call__(self, snapshot: WorkerSnapshot) -> None:
        document = worker_state_document(self.pid, self.workspace, snapshot)
        write_text_atomic(self.path, json.dumps(document) + "\n")

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)


def read_worker_states(home: Path, workspace: str) -> list[dict[str, Any]]:
    """The state documents of the workspace's live workers (stale and unreadable files skipped)."""
    states = []
    paths = sorted(run_dir(home).glob(f"worker-{workspace}-*.json"))
    for path in paths[:worker_state_files_max]:
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue  # removed or being replaced this instant
        if (
            isinstance(document, dict)
            and document.get("workspace") == workspace
            and isinstance(document.get("pid"), int)
            and process_is_alive(document["pid"])
        ):
            states.append(document)
    return states
