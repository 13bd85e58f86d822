"""A small partnership through a real `ledger serve` and `ledger worker`, as `make demo` runs it."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from infra.services import Endpoints
from ledger.app.catalogue_load import load_catalogue_file
from ledger.app.demo_generate import DemoSettings, generate_demo
from ledger.app.demo_send import send_part, settle_through_api
from ledger.app.demo_summary import demo_summary, total_row
from ledger.app.tokens import create_token
from ledger.app.workspace import Workspace, drop_workspace, open_workspace
from ledger.domain.events import REASON_CODES
from tests.http.test_serve import start_server

pytestmark = pytest.mark.integration

settle_wait_s = 120


@pytest.fixture
async def running(workspace_name: str, services: Endpoints) -> AsyncIterator[tuple[Workspace, str]]:
    """A fresh workspace with its server and worker running: (workspace, base URL)."""
    ws = await open_workspace(workspace_name)
    base, server = start_server(workspace_name)
    worker = subprocess.Popen(
        [sys.executable, "-m", "ledger", "worker", "--workspace", workspace_name],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield ws, base
    finally:
        for process in (worker, server):
            process.terminate()
        for process in (worker, server):
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        await drop_workspace(services, workspace_name)
        ws.learner_key_path.unlink(missing_ok=True)


async def test_a_small_partnership_adds_up_end_to_end(
    running: tuple[Workspace, str], tmp_path: Path
) -> None:
    ws, base = running
    settings = DemoSettings(seed=5, events=3_000, bad_per_reason=1)
    made = generate_demo(settings, tmp_path)
    await load_catalogue_file(ws, made.catalogue)
    tokens = {("admin", "operator"): (await create_token(ws, "admin", "operator")).token}
    for vendor in sorted({f.vendor for f in made.files}):
        tokens[("vendor", vendor)] = (await create_token(ws, "vendor", vendor)).token
    admin = tokens[("admin", "operator")]

    september = await send_part(tmp_path, base, tokens, "2026-09")
    october = await send_part(tmp_path, base, tokens, "2026-10")
    answers = [
        await settle_through_api(base, admin, p, wait_s=settle_wait_s)
        for p in ("2026-08", "2026-09")
    ]
    late = await send_part(tmp_path, base, tokens, "2026-10-late")
    answers.append(await settle_through_api(base, admin, "2026-10", wait_s=settle_wait_s))

    assert september.events + october.events + late.events == settings.events
    # Every reason the API can tell at once was told; a conflict needs the ledger.
    assert set(september.refused_by_reason) == set(REASON_CODES) - {"conflicting_duplicate"}

    rows, _ = await demo_summary(ws)
    total = total_row(rows)
    assert total.events == settings.events
    assert total.events == total.accepted + total.duplicates + total.rejected + total.unlicensed
    assert total.duplicates == made.counts.duplicates
    assert total.rejected == len(REASON_CODES) * settings.bad_per_reason
    assert total.accepted > 0 and total.unlicensed > 0
    issued = [s for answer in answers for s in answer["settlements"]]  # type: ignore[attr-defined]
    assert total.amount == sum(Decimal(s["total"]) for s in issued) > 0
    assert any(row.municipality is None for row in rows)  # unknown school: its own row

    # Late September events were settled as adjustments in October's settlements.
    async with httpx.AsyncClient(
        base_url=base, headers={"Authorization": f"Bearer {admin}"}
    ) as client:
        documents = await asyncio.gather(
            *(client.get(f"/v1/settlements/{s['id']}") for s in answers[-1]["settlements"])  # type: ignore[index]
        )
    usage_periods = {line["usage_period"] for d in documents for line in d.json()["lines"]}
    assert usage_periods == {"2026-09", "2026-10"}
