"""`ledger status` as an operator runs it: events sent but not processed show as lag with
"no worker running"; once processed the lag is 0. A stale state file is mentioned."""

from __future__ import annotations

import json

import pytest

from ledger.app.worker_state import run_dir
from ledger.app.workspace import Workspace
from tests.integration.conftest import event, ledger_cli, load_catalogue, process, send_events

pytestmark = pytest.mark.integration

SENT = 7


async def test_status_shows_lag_until_processed(workspace: Workspace) -> None:
    await load_catalogue(workspace)
    await send_events(workspace, [event(f"e-{n}") for n in range(SENT)])
    stale = run_dir(workspace.home) / f"worker-{workspace.name}-999999999.json"
    stale.parent.mkdir(parents=True, exist_ok=True)
    stale.write_text("{}", encoding="utf-8")
    try:
        before = json.loads(ledger_cli("status", "--workspace", workspace.name, "--json").stdout)
        assert before["worker_running"] is False and before["workers"] == []
        # The catalogue marker goes into every partition, the events on top.
        partitions = before["partitions"]
        assert before["lag"] == sum(p["log_end_offset"] for p in partitions) >= SENT
        assert all(p["ledger_position"] == 0 and p["worker_pid"] is None for p in partitions)
        assert [i["path"] for i in before["ignored_state_files"]] == [str(stale)]

        shown = ledger_cli("status", "--workspace", workspace.name)
        assert "no worker running" in shown.stdout
        assert f"lag: {before['lag']} messages" in shown.stdout
        assert "stale" in shown.stderr and str(stale.name) in shown.stderr

        await process(workspace)
        after = json.loads(ledger_cli("status", "--workspace", workspace.name, "--json").stdout)
        assert after["lag"] == 0
        assert [p["ledger_position"] for p in after["partitions"]] == [
            p["log_end_offset"] for p in partitions
        ]
    finally:
        stale.unlink(missing_ok=True)
