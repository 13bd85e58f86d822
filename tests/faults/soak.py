"""`make soak`: the fault harness for SOAK_SECONDS (default 600) with ingest at its maximum.

`ledger ingest` runs back to back for the whole time (its rate measured first, alone), while
>= 200 SIGKILLs (scaled down for a shorter SOAK_SECONDS, never below 20), the broker and
PostgreSQL restarts, paired and joining workers and the stop checks are spread over it. Then the
ledger must equal an uninterrupted replay of the same raw log. Writes
bench-out/soak/soak-<UTC time>.json (the run's logs in run-<UTC time>/) and prints peak RSS,
maximum lag and the time to drain.

    SOAK_SECONDS=120 .venv/bin/python -m tests.faults.soak
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time

from tests.faults.harness import REPO_ROOT, Config, run_harness, stop_within_s

soak_seconds_default = 600.0
soak_kills_per_600_s = 200
soak_kills_min = 20
soak_events = 120_000  # the first pass of the workload; later passes reuse it with new ids
soak_chunks = 24
soak_kill_anywhere_share = 0.8  # the kills come every few seconds: most cannot wait for work


def main() -> int:
    seconds = float(os.environ.get("SOAK_SECONDS") or soak_seconds_default)
    seed = int(os.environ.get("SOAK_SEED") or 1)
    kills = max(soak_kills_min, round(soak_kills_per_600_s * seconds / soak_seconds_default))
    config = Config(
        seed=seed,
        events=soak_events,
        chunks=soak_chunks,
        kills=kills,
        soak_seconds=seconds,
        kill_anywhere_share=soak_kill_anywhere_share,
    )
    out_dir = REPO_ROOT / "bench-out" / "soak"
    out_dir.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    run_dir = out_dir / f"run-{stamp}"  # its logs stay for reading; the data does not
    try:
        report = run_harness(config, run_dir)
    finally:
        shutil.rmtree(run_dir / "chunks", ignore_errors=True)
    document = report.to_document()
    document["soak_seconds"] = seconds
    path = out_dir / f"soak-{stamp}.json"
    path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    outages = ", ".join(f"{o.service} {o.how} {o.down_s:.0f} s" for o in report.outages)
    slowest_stop = max((c.seconds for c in report.stop_checks), default=0.0)
    print(
        f"soak {seconds:.0f} s (wall {report.wall_s:.0f} s), seed {seed}:"
        f" {report.events_sent} events sent, ingest {report.ingest_rate_events_per_s:.0f} ev/s,"
        f" {report.kills} kills, outages: {outages}; slowest stop {slowest_stop:.1f} s;"
        f" peak worker RSS {report.peak_rss_bytes / 2**20:.0f} MiB, max lag {report.lag_max},"
        f" drained {report.drain_s:.1f} s after the last fault;"
        f" {report.entries_compared} entries and {report.settlement_files} settlement files"
        f" {'EQUAL' if report.equal else 'DIFFERENT'} to the uninterrupted replay"
        f" (report: {path.relative_to(REPO_ROOT)})"
    )
    if report.unexpected_exits:
        print("unexpected worker exits:", *report.unexpected_exits, sep="\n  ")
    slow_stops = [c for c in report.stop_checks if c.seconds >= stop_within_s or c.exit_code]
    for check in slow_stops:
        print(f"stop over {stop_within_s:.0f} s or not clean: {check}")
    return 0 if report.equal and not report.unexpected_exits and not slow_stops else 1


if __name__ == "__main__":
    sys.exit(main())
