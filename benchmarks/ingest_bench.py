"""Events/s for `ledger ingest` + `ledger process --until-idle`, through the real CLI.

A fresh workspace, the example catalogue, N generated events of October 2026; each
command is timed as a user would run it (process start-up included), then the
workspace is dropped.

    .venv/bin/python -m benchmarks.ingest_bench --events 100000
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from infra.services import ensure_services
from ledger.app.workspace import drop_workspace
from ledger.demo.simulate import generate_events, write_json_lines
from ledger.domain.catalogue_parse import load_catalogue_text

CATALOGUE = Path(__file__).resolve().parents[1] / "examples" / "catalogue.yaml"


def timed(*args: str) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "ledger", *args], check=True, capture_output=True)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    args = parser.parse_args()
    endpoints = ensure_services()
    workspace = f"bench_{uuid.uuid4().hex[:8]}"
    with tempfile.TemporaryDirectory() as directory:
        events = Path(directory) / "events.jsonl"
        catalogue = load_catalogue_text(CATALOGUE.read_text(encoding="utf-8"))
        write_json_lines(generate_events(catalogue, period="2026-10", count=args.events), events)
        try:
            timed("catalogue", "load", str(CATALOGUE), "--workspace", workspace)
            ingest_s = timed("ingest", str(events), "--workspace", workspace)
            process_s = timed("process", "--until-idle", "--workspace", workspace)
        finally:
            asyncio.run(drop_workspace(endpoints, workspace))
    total = ingest_s + process_s
    for name, seconds in (("ingest", ingest_s), ("process", process_s), ("together", total)):
        rate = args.events / seconds
        print(f"{name:9}{args.events} events in {seconds:6.1f} s = {rate:8.0f} events/s")


if __name__ == "__main__":
    main()
