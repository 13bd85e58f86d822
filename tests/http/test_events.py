"""Vendors send usage over HTTP: tokens, per-event answers, final outcomes, limits."""

from __future__ import annotations

import gzip
import io
import json

import fastavro
import httpx
import pytest

from ledger.app.api_service import ApiService
from ledger.app.tokens import create_token, revoke
from ledger.app.workspace import Workspace
from ledger.http.app import create_app
from ledger.http.ratelimit import RateLimiter
from tests.conftest import REPO_ROOT
from tests.http.conftest import MUNICIPALITY, OTHER_VENDOR, VENDOR, Api, event
from tests.integration.conftest import process, query

pytestmark = pytest.mark.integration


MIXED = [
    event("ok-1"),
    event("mismatch-1", vendor=OTHER_VENDOR, product="eng-5-10"),
    event("product-1", product="no-such-product"),
    "not an object",
    {k: v for k, v in event("missing-1").items() if k != "learner"},
    event("future-1", occurred_at="2099-01-01T00:00:00Z"),
    event("quantity-1", quantity=0),
    event("school-1", school="999999999"),
]
MIXED_REASONS = [
    None,
    "vendor_mismatch",
    "unknown_product",
    "malformed",
    "schema_violation",
    "occurred_in_future",
    "invalid_quantity",
    "unknown_school",
]


async def test_every_call_needs_a_valid_token_of_the_right_scope(api: Api) -> None:
    body = [event("e-1")]
    assert (await api.client.post("/v1/events", json=body)).status_code == 401
    bad = {"Authorization": "Bearer lk_000000000000_" + "x" * 43}
    answer = await api.client.post("/v1/events", json=body, headers=bad)
    assert answer.status_code == 401
    assert answer.json()["error"] == "unauthorized"
    finance = await api.headers("municipality", MUNICIPALITY)
    answer = await api.client.post("/v1/events", json=body, headers=finance)
    assert answer.status_code == 403
    assert answer.json()["error"] == "forbidden"
    assert (await api.client.get("/v1/events/e-1", headers=finance)).status_code == 403
    # health checks need none
    assert (await api.client.get("/healthz")).status_code == 200


async def test_a_revoked_token_is_refused(api: Api) -> None:
    issued = await create_token(api.ws, "vendor", VENDOR)
    await revoke(api.ws, issued.record.token_id)
    headers = {"Authorization": f"Bearer {issued.token}"}
    answer = await api.client.post("/v1/events", json=[event("r-1")], headers=headers)
    assert answer.status_code == 401
    rows = await query(api.ws, "SELECT secret_sha256 FROM ledger.api_tokens")
    assert issued.token.encode() not in b"".join(bytes(row[0]) for row in rows)


async def test_a_mixed_batch_is_answered_per_event_and_the_ledger_agrees(api: Api) -> None:
    headers = await api.headers("vendor", VENDOR)
    answer = await api.client.post("/v1/events", json=MIXED, headers=headers)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["received"] == len(MIXED)
    assert body["refused"] == len(MIXED) - 1
    assert [e["index"] for e in body["events"]] == list(range(len(MIXED)))
    assert [e["reason"] for e in body["events"]] == MIXED_REASONS
    assert body["events"][0]["status"] == "received"

    await process(api.ws)
    # The raw log kept every submission; the worker decided each as the API said at once.
    rows = await query(
        api.ws,
        "SELECT source_offset, chain, status, reason_code, vendor, event_id FROM ledger.entries"
        " WHERE kind = 'event'",
    )
    assert len(rows) == len(MIXED)
    by_id = {row.event_id: row for row in rows}
    assert by_id["ok-1"].status == "accepted"
    # The mismatch is the submitting vendor's rejection, never the named vendor's.
    assert by_id["mismatch-1"].vendor == VENDOR
    assert sorted(r.reason_code or "" for r in rows) == sorted(r or "" for r in MIXED_REASONS)


async def test_wait_returns_the_final_outcomes(api: Api, worker: None) -> None:
    headers = await api.headers("vendor", VENDOR)
    batch = [event("w-1"), event("w-2", product="eng-5-10"), event("w-1")]
    answer = await api.client.post("/v1/events?wait=30", json=batch, headers=headers)
    assert answer.status_code == 200, answer.text
    events = answer.json()["events"]
    assert events[0]["status"] == "accepted"
    assert events[0]["licence"] == "L-SCHOOL"
    assert events[0]["period"] == "2026-10"
    assert (events[1]["status"], events[1]["reason"]) == ("rejected", "unknown_product")
    assert events[2]["status"] == "duplicate"

    # A retry of the same request is safe: the same events become identical duplicates.
    again = await api.client.post("/v1/events?wait=30", json=batch[:1], headers=headers)
    assert again.json()["events"][0]["status"] == "duplicate"
    changed = [event("w-1", item="kap-4")]
    conflict = await api.client.post("/v1/events?wait=30", json=changed, headers=headers)
    assert conflict.json()["events"][0]["reason"] == "conflicting_duplicate"

    lookup = await api.client.get("/v1/events/w-1", headers=headers)
    assert lookup.status_code == 200
    assert lookup.json()["status"] == "accepted"
    assert [s["status"] for s in lookup.json()["submissions"]] == [
        "accepted",
        "duplicate",
        "duplicate",
        "rejected",
    ]
    # Another vendor cannot see it; an unknown id is 404 once the ledger has caught up.
    other = await api.headers("vendor", OTHER_VENDOR)
    assert (await api.client.get("/v1/events/w-1", headers=other)).status_code == 404
    missing = await api.client.get("/v1/events/never-sent", headers=headers)
    assert (missing.status_code, missing.json()["error"]) == (404, "unknown_event")


async def test_an_unprocessed_event_is_pending(api: Api) -> None:
    headers = await api.headers("vendor", VENDOR)
    await api.client.post("/v1/events", json=[event("p-1")], headers=headers)
    lookup = await api.client.get("/v1/events/p-1", headers=headers)
    assert (lookup.status_code, lookup.json()["status"]) == (200, "pending")


async def test_gzip_and_avro_bodies(api: Api) -> None:
    headers = await api.headers("vendor", VENDOR)
    compressed = gzip.compress(json.dumps([event("g-1"), event("g-2")]).encode())
    answer = await api.client.post(
        "/v1/events",
        content=compressed,
        headers={**headers, "Content-Type": "application/json", "Content-Encoding": "gzip"},
    )
    assert answer.status_code == 200, answer.text
    assert [e["status"] for e in answer.json()["events"]] == ["received", "received"]

    container = io.BytesIO()
    schema = json.loads((REPO_ROOT / "schemas" / "usage_event.v1.avsc").read_text())
    fastavro.writer(container, fastavro.parse_schema(schema), [event("a-1"), event("a-2")])
    answer = await api.client.post(
        "/v1/events",
        content=container.getvalue(),
        headers={**headers, "Content-Type": "application/avro"},
    )
    assert answer.status_code == 200, answer.text
    assert [e["event_id"] for e in answer.json()["events"]] == ["a-1", "a-2"]

    await process(api.ws)
    rows = await query(api.ws, "SELECT event_id FROM ledger.entries WHERE status = 'accepted'")
    assert sorted(row.event_id for row in rows) == ["a-1", "a-2", "g-1", "g-2"]


async def test_bodies_beyond_the_bounds_are_413(api: Api) -> None:
    headers = await api.headers("vendor", VENDOR)
    too_many = [event(f"m-{i}") for i in range(10_001)]
    answer = await api.client.post("/v1/events", json=too_many, headers=headers)
    assert (answer.status_code, answer.json()["error"]) == (413, "payload_too_large")
    bomb = gzip.compress(b"[" + b" " * (17 * 1024 * 1024) + b"]")
    answer = await api.client.post(
        "/v1/events",
        content=bomb,
        headers={**headers, "Content-Type": "application/json", "Content-Encoding": "gzip"},
    )
    assert (answer.status_code, answer.json()["error"]) == (413, "payload_too_large")
    answer = await api.client.post(
        "/v1/events", content=b"{not json", headers={**headers, "Content-Type": "application/json"}
    )
    assert (answer.status_code, answer.json()["error"]) == (400, "malformed")
    # Nothing of a refused request reached the raw log.
    await process(api.ws)
    assert await query(api.ws, "SELECT 1 FROM ledger.entries WHERE kind = 'event'") == []


async def test_too_many_requests_per_token_is_429(workspace: Workspace) -> None:
    service = ApiService(workspace)
    app = create_app(service, rate_limiter=RateLimiter(requests_per_second=0.5, burst=2))
    token = (await create_token(workspace, "vendor", VENDOR)).token
    headers = {"Authorization": f"Bearer {token}"}
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            codes = [
                (await client.get("/v1/events/x", headers=headers)).status_code for _ in range(2)
            ]
            limited = await client.get("/v1/events/x", headers=headers)
    finally:
        await service.close()
    assert 429 not in codes  # the burst goes through
    assert limited.status_code == 429
    assert limited.json()["error"] == "rate_limited"
    assert int(limited.headers["Retry-After"]) >= 1


async def test_text_the_database_cannot_store_is_rejected_not_a_stalled_worker(api: Api) -> None:
    """Found by the schemathesis run: a NUL in a field crashed the worker's INSERT (PostgreSQL
    text holds no NUL, UTF-8 no lone surrogate), which stalled the partition."""
    headers = await api.headers("vendor", VENDOR)
    batch = [
        event("nul\x00-1"),
        event("nul-2", product="matte\x00"),
        event("nul-3", learner="a\x00b"),
        event("surrogate-1", item="kap-\ud800"),
        event("surrogate\udfff-2"),
        event("fine-1"),
    ]
    body = json.dumps(batch).encode()  # ASCII escapes: valid JSON for every one of them
    answer = await api.client.post(
        "/v1/events", content=body, headers={**headers, "Content-Type": "application/json"}
    )
    assert answer.status_code == 200, answer.text
    reasons = [e["reason"] for e in answer.json()["events"]]
    assert reasons == ["schema_violation"] * 5 + [None]

    await process(api.ws)
    rows = await query(
        api.ws, "SELECT status, reason_code FROM ledger.entries WHERE kind = 'event'"
    )
    assert sorted((r.status, r.reason_code) for r in rows) == sorted(
        [("rejected", "schema_violation")] * 5 + [("accepted", None)]
    )
