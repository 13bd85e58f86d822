"""`ledger worker` through faults: stops when asked, rides out a PostgreSQL outage.

The services are shared with other tests running at the same time: a test that stops
PostgreSQL restarts it in a `finally`, and outages are kept few and short.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from infra.common import file_lock
from infra.postgres import start_postgres, stop_postgres
from infra.services import lock_path
from ledger.app.worker_state import read_worker_states, worker_state_path
from ledger.app.workspace import Workspace
from tests.integration.conftest import load_catalogue, process, send_events
from tests.integration.test_crash import (
    assert_complete_and_single,
    entry_count,
    sample_events,
    wait_for_entries,
)

pytestmark = pytest.mark.integration

stop_within_s = 10.0
outage_s = 10.0
outage_log_lines_max = 20


def start_worker(ws: Workspace, log: Path, *extra: str) -> subprocess.Popen[bytes]:
    """`ledger worker` at the default log level (what an operator sees), stderr to a file."""
    with log.open("ab") as stderr:
        return subprocess.Popen(
            [sys.executable, "-m", "ledger", "worker", "--workspace", ws.name, *extra],
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            env={k: v for k, v in os.environ.items() if k != "LEDGER_LOG_LEVEL"},
        )


async def wait_for_state(ws: Workspace, state: str, timeout_s: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for document in read_worker_states(ws.home, ws.name):
            if document["state"] == state:
                return document
        await asyncio.sleep(0.1)
    raise AssertionError(f"no worker of {ws.name} in state {state} after {timeout_s} s")


async def stop_and_time(worker: subprocess.Popen[bytes]) -> tuple[int, float]:
    started = time.monotonic()
    worker.send_signal(signal.SIGTERM)
    code = await asyncio.to_thread(worker.wait, 30)
    return code, time.monotonic() - started


def kill_if_running(worker: subprocess.Popen[bytes]) -> None:
    if worker.poll() is None:
        worker.kill()
        worker.wait(timeout=30)


def postgres_stop(home: Path) -> None:
    with file_lock(lock_path(home), "stopping PostgreSQL for a fault test"):
        stop_postgres(home)


def postgres_start(home: Path) -> None:
    with file_lock(lock_path(home), "restarting PostgreSQL after a fault test"):
        start_postgres(home)


def lines_after(log: Path, position: int) -> list[str]:
    with log.open("rb") as file:
        file.seek(position)
        return file.read().decode(errors="replace").splitlines()


async def test_sigterm_stops_the_worker_idle_and_processing(
    workspace: Workspace, tmp_path: Path
) -> None:
    await load_catalogue(workspace)
    log = tmp_path / "worker.log"
    worker = start_worker(workspace, log)
    try:
        running = await wait_for_state(workspace, "running")
        assert running["pid"] == worker.pid
        idle_code, idle_s = await stop_and_time(worker)
        assert idle_code == 0, log.read_text()
        assert idle_s < stop_within_s
        assert not worker_state_path(workspace.home, workspace.name, worker.pid).exists()

        events = sample_events(20_000, seed=3)
        await send_events(workspace, events)
        worker = start_worker(workspace, log)
        await wait_for_entries(workspace, 2_000)
        busy_code, busy_s = await stop_and_time(worker)
        assert busy_code == 0, log.read_text()
        assert busy_s < stop_within_s
        assert await entry_count(workspace) < len(events), "stopped while processing"
    finally:
        kill_if_running(worker)
    print(f"SIGTERM stop: idle {idle_s:.2f} s, processing {busy_s:.2f} s")
    await process(workspace)
    await assert_complete_and_single(workspace, len(events))


async def test_worker_rides_out_a_postgres_outage_and_stops_while_waiting(
    workspace: Workspace, tmp_path: Path
) -> None:
    home = workspace.home
    await load_catalogue(workspace)
    events = sample_events(30_000, seed=5)
    await send_events(workspace, events)
    log = tmp_path / "worker.log"
    worker = start_worker(workspace, log)
    try:
        await wait_for_entries(workspace, 3_000)
        position = log.stat().st_size
        try:
            await asyncio.to_thread(postgres_stop, home)
            waiting = await wait_for_state(workspace, "waiting_for_database", timeout_s=20)
            assert waiting["pid"] == worker.pid
            await asyncio.sleep(outage_s)
            assert worker.poll() is None, "the worker waits for PostgreSQL, it does not exit"
        finally:
            await asyncio.to_thread(postgres_start, home)
        await wait_for_entries(workspace, len(events), timeout_s=180)
        await wait_for_state(workspace, "running", timeout_s=20)
        outage_lines = lines_after(log, position)
        print(f"lines logged for a {outage_s:.0f} s PostgreSQL outage: {len(outage_lines)}")
        print("\n".join(outage_lines))
        assert len(outage_lines) < outage_log_lines_max, outage_lines
        assert any("PostgreSQL unreachable since" in line for line in outage_lines)
        assert any("PostgreSQL back after" in line for line in outage_lines)
        await assert_complete_and_single(workspace, len(events))

        # PostgreSQL away again with events pending: SIGTERM must still stop it.
        more = sample_events(2_000, seed=6)
        try:
            await asyncio.to_thread(postgres_stop, home)
            await send_events(workspace, more)
            await wait_for_state(workspace, "waiting_for_database", timeout_s=20)
            code, stop_s = await stop_and_time(worker)
        finally:
            await asyncio.to_thread(postgres_start, home)
        print(f"SIGTERM while waiting for PostgreSQL: exit {code} after {stop_s:.2f} s")
        assert code == 0, log.read_text()
        assert stop_s < stop_within_s
    finally:
        kill_if_running(worker)
    await process(workspace)
    await assert_complete_and_single(workspace, len(events) + len(more))
