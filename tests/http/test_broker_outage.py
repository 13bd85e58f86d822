"""A broker that goes away under a request: 503 with Retry-After, and a retry loses and
doubles nothing. Stops and restarts the real broker of the test session."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from infra.kafka import stop_broker
from infra.services import ensure_services
from tests.http.conftest import VENDOR, Api, event
from tests.integration.conftest import process, query

pytestmark = pytest.mark.integration

events_in_batch = 5_000
retry_attempts_max = 60


async def test_a_retry_after_the_broker_stopped_mid_request_loses_and_doubles_nothing(
    api: Api, ledger_home: Path
) -> None:
    headers = await api.headers("vendor", VENDOR)
    batch = [event(f"b-{i}", learner=f"learner-{i % 97}") for i in range(events_in_batch)]
    try:
        in_flight = asyncio.ensure_future(
            api.client.post("/v1/events", json=batch, headers=headers)
        )
        await asyncio.sleep(0.02)
        await asyncio.to_thread(stop_broker, ledger_home)
        first = await in_flight
        assert first.status_code in (200, 503), first.text
        if first.status_code == 503:
            assert first.json()["error"] == "broker_unavailable"
            assert int(first.headers["Retry-After"]) >= 1

        while_down = await api.client.post("/v1/events", json=batch[:10], headers=headers)
        assert (while_down.status_code, while_down.json()["error"]) == (503, "broker_unavailable")
        assert int(while_down.headers["Retry-After"]) >= 1
    finally:
        await asyncio.to_thread(ensure_services, ledger_home)

    # The client retries the whole batch, as the 503 told it to, until the broker has it.
    for _ in range(retry_attempts_max):
        retry = await api.client.post("/v1/events", json=batch, headers=headers)
        if retry.status_code == 200:
            break
        assert retry.status_code == 503, retry.text
        await asyncio.sleep(int(retry.headers["Retry-After"]))
    assert retry.status_code == 200
    assert all(e["status"] == "received" for e in retry.json()["events"])

    await process(api.ws)
    accepted = await query(
        api.ws, "SELECT event_id FROM ledger.entries WHERE status = 'accepted' ORDER BY event_id"
    )
    assert sorted(row.event_id for row in accepted) == sorted(e["event_id"] for e in batch)
    statuses = await query(
        api.ws, "SELECT DISTINCT status FROM ledger.entries WHERE kind = 'event'"
    )
    assert {row.status for row in statuses} <= {"accepted", "duplicate"}
