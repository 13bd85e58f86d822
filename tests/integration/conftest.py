"""Integration fixtures: a fresh workspace per test on the real Kafka and PostgreSQL."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import AsyncIterator, Iterable, Mapping
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from ledger.app.workspace import Workspace, drop_workspace, open_workspace, stream_target
from ledger.store.engine import create_ledger_engine
from streams.ingest import send_submissions, submission_for_record
from streams.runner import process_until_idle

HERE = Path(__file__).parent
CATALOGUE = HERE / "catalogue.yaml"


@pytest.fixture
async def workspace(services: Any, workspace_name: str) -> AsyncIterator[Workspace]:
    ws = await open_workspace(workspace_name)
    yield ws
    await drop_workspace(services, workspace_name)
    ws.learner_key_path.unlink(missing_ok=True)


async def send_events(ws: Workspace, events: Iterable[Mapping[str, object]]) -> int:
    submissions = (
        submission_for_record(dict(event), json.dumps(event).encode()) for event in events
    )
    return await send_submissions(ws.kafka_ingest, ws.topics.raw, submissions)


async def process(ws: Workspace) -> None:
    await process_until_idle(stream_target(ws), timeout_s=300)


async def load_catalogue(ws: Workspace, path: Path = CATALOGUE) -> None:
    from ledger.app.catalogue_load import load_catalogue as load

    engine = create_ledger_engine(ws.database_url)
    try:
        await load(engine, ws.kafka_ingest, ws.topics.raw, path)
    finally:
        await engine.dispose()


async def query(ws: Workspace, sql: str, **params: object) -> list[Any]:
    engine = create_ledger_engine(ws.database_url)
    try:
        async with engine.connect() as conn:
            return list(await conn.execute(text(sql), params))
    finally:
        await engine.dispose()


def ledger_cli(
    *args: str, check: bool = True, env: Mapping[str, str] | None = None, timeout: float = 600
) -> subprocess.CompletedProcess[str]:
    """Run the real `ledger` command line, as a user would."""
    import os

    result = subprocess.run(
        [sys.executable, "-m", "ledger", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )
    if check and result.returncode != 0:
        raise AssertionError(
            f"ledger {' '.join(args)} exited {result.returncode}:\n{result.stdout}\n{result.stderr}"
        )
    return result


def event(event_id: str, **overrides: object) -> dict[str, object]:
    base: dict[str, object] = {
        "event_id": event_id,
        "vendor": "987654325",
        "product": "matte-1-7",
        "school": "974000008",
        "learner": "feide-learner-1",
        "role": "pupil",
        "action": "open",
        "item": "kap-1",
        "quantity": 1,
        "unit": "access",
        "occurred_at": "2026-10-05T08:15:00Z",
    }
    base.update(overrides)
    return base
