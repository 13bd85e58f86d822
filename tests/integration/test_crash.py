"""A worker killed with SIGKILL at any point, then restarted, gives the same ledger."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ledger.app.workspace import Workspace
from ledger.demo.simulate import generate_events
from ledger.domain.catalogue_parse import load_catalogue_text
from tests.integration.conftest import CATALOGUE, load_catalogue, process, query, send_events

pytestmark = pytest.mark.integration

events_total = 30_000


def start_worker(ws: Workspace, log_dir: Path) -> subprocess.Popen[bytes]:
    """`ledger worker` as its own process, its log in a file (an unread pipe would block it)."""
    log = log_dir / f"worker-{len(list(log_dir.glob('worker-*.log')))}.log"
    with log.open("wb") as stderr:
        return subprocess.Popen(
            [sys.executable, "-m", "ledger", "worker", "--workspace", ws.name],
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            env={**os.environ, "LEDGER_LOG_LEVEL": "INFO"},
        )


async def entry_count(ws: Workspace) -> int:
    rows = await query(ws, "SELECT count(*) AS n FROM ledger.entries WHERE kind = 'event'")
    return int(rows[0].n)


async def wait_for_entries(ws: Workspace, at_least: int, timeout_s: float = 180) -> int:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        count = await entry_count(ws)
        if count >= at_least:
            return count
        await asyncio.sleep(0.05)
    raise AssertionError(f"fewer than {at_least} entries after {timeout_s} s")


async def assert_complete_and_single(ws: Workspace, expected_messages: int) -> None:
    rows = await query(
        ws,
        "SELECT count(*) AS n, count(DISTINCT (chain, source_offset)) AS offsets,"
        " count(*) FILTER (WHERE status = 'accepted') AS accepted,"
        " count(DISTINCT (vendor, event_id)) FILTER (WHERE status = 'accepted') AS ids"
        " FROM ledger.entries WHERE kind = 'event'",
    )
    row = rows[0]
    assert row.n == expected_messages, "no event lost, none written twice"
    assert row.offsets == expected_messages, "one entry per raw message"
    assert row.accepted == row.ids, "no event accepted twice"
    gaps = await query(
        ws,
        "SELECT chain, count(*) AS n, max(seq) AS top FROM ledger.entries GROUP BY chain",
    )
    for chain in gaps:
        assert chain.n == chain.top, f"chain {chain.chain} has a gap in seq"


def sample_events(count: int, seed: int) -> list[dict[str, object]]:
    catalogue = load_catalogue_text(CATALOGUE.read_text())
    return list(generate_events(catalogue, period="2026-10", count=count, seed=seed))


async def reference_content(ws: Workspace) -> list[tuple[object, ...]]:
    rows = await query(
        ws,
        "SELECT vendor, event_id, status, reason_code, licence_id, content_digest"
        " FROM ledger.entries WHERE kind = 'event' ORDER BY vendor, event_id, chain, seq",
    )
    return [tuple(row) for row in rows]


async def test_sigkill_mid_batch_then_restart_loses_and_doubles_nothing(
    workspace: Workspace, tmp_path: Path
):
    await load_catalogue(workspace)
    events = sample_events(events_total, seed=7)
    events += events[:2000]  # resent copies: must end as duplicates, not double counts
    await send_events(workspace, events)
    worker = start_worker(workspace, tmp_path)
    try:
        await wait_for_entries(workspace, 3_000)
    finally:
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=30)
    killed_at = await entry_count(workspace)
    assert killed_at < len(events), "the kill must land before the end to test anything"
    await process(workspace)  # restart: `ledger process --until-idle` in-process
    await assert_complete_and_single(workspace, len(events))
    duplicates = await query(
        workspace, "SELECT count(*) AS n FROM ledger.entries WHERE status = 'duplicate'"
    )
    assert duplicates[0].n == 2000


async def test_two_workers_one_killed_give_the_same_ledger_as_one(
    workspace: Workspace, services, tmp_path
):
    from ledger.app.workspace import drop_workspace, open_workspace

    await load_catalogue(workspace)
    events = sample_events(events_total, seed=11)
    await send_events(workspace, events)
    first, second = start_worker(workspace, tmp_path), start_worker(workspace, tmp_path)
    try:
        await wait_for_entries(workspace, 5_000)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=30)
        await wait_for_entries(workspace, len(events), timeout_s=300)
    finally:
        for worker in (first, second):
            if worker.poll() is None:
                worker.send_signal(signal.SIGTERM)
                try:
                    worker.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    worker.kill()
    await process(workspace)
    await assert_complete_and_single(workspace, len(events))

    # The same log processed by a single, never-killed worker into a fresh workspace.
    reference = await open_workspace(f"{workspace.name}_ref")
    try:
        await load_catalogue(reference)
        await send_events(reference, events)
        await process(reference)
        # learner hashes differ per workspace key; compare everything else
        ours = [row[:5] for row in await reference_content(workspace)]
        theirs = [row[:5] for row in await reference_content(reference)]
        assert ours == theirs
    finally:
        await drop_workspace(services, reference.name)
        reference.learner_key_path.unlink(missing_ok=True)
