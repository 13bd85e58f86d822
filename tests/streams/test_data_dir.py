"""`ledger process` keeps faust's files under the state folder, not where it is run from."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from ledger.app.workspace import (
    Workspace,
    drop_workspace,
    faust_data_dir,
    open_workspace,
    stream_target,
)
from tests.integration.conftest import event, load_catalogue, send_events

pytestmark = pytest.mark.integration


@pytest.fixture
async def workspace(services: Any, workspace_name: str) -> AsyncIterator[Workspace]:
    ws = await open_workspace(workspace_name)
    yield ws
    await drop_workspace(services, workspace_name)
    ws.learner_key_path.unlink(missing_ok=True)
    shutil.rmtree(stream_target(ws).data_dir, ignore_errors=True)


async def test_process_writes_nothing_into_the_working_directory(
    workspace: Workspace, tmp_path: Path
) -> None:
    await load_catalogue(workspace)
    await send_events(workspace, [event("e-1"), event("e-2")])
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    result = subprocess.run(
        [sys.executable, "-m", "ledger", "process", "--until-idle"],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "LEDGER_WORKSPACE": workspace.name},
    )
    assert result.returncode == 0, result.stderr
    assert "2 accepted" in result.stdout
    assert sorted(cwd.iterdir()) == []
    data_dir = faust_data_dir(workspace.home, f"ledger-{workspace.name}")
    assert stream_target(workspace).data_dir == data_dir
    assert data_dir.is_dir()
