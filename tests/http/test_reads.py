"""The read and admin routes on the real services: who may read what, and that it is exact.

Settlements served over HTTP are the bytes `ledger export` writes; ledger entries let
an auditor recompute every hash with nothing but the documented encoding; the admin
routes refuse what the command line refuses.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from ledger.app.export import export_period
from ledger.app.month_to_date import usage_rows, usage_so_far
from ledger.app.settle import LEDGER_BEHIND, SettleRefused
from ledger.app.settle_run import wait_for_ledger
from ledger.domain.canonical import document_digest
from ledger.domain.chain import (
    BYTES_FIELDS,
    DRAFT_FIELDS,
    GENESIS_HASH,
    TIMESTAMP_FIELDS,
    EntryDraft,
    canonical_bytes,
    entry_hash,
)
from ledger.domain.tokens import Scope
from tests.http.conftest import (
    MUNICIPALITY,
    OTHER_MUNICIPALITY,
    OTHER_VENDOR,
    VENDOR,
    Api,
    event,
)
from tests.integration.conftest import CATALOGUE, process, send_events

pytestmark = pytest.mark.integration

PERIOD = "2026-10"
SUBJECTS: dict[Scope, str] = {
    "vendor": VENDOR,
    "municipality": MUNICIPALITY,
    "auditor": "Riksrevisjonen",
    "admin": "operator",
}


def joint(event_id: str, school: str, **changes: Any) -> dict[str, Any]:
    """Usage of the other vendor's joint licence (L-JOINT, bought by 3201 and 3203)."""
    return event(event_id, vendor=OTHER_VENDOR, product="eng-5-10", school=school, **changes)


# October: L-SCHOOL at Bekkestua and L-LATER at Eikeli (3201, vendor), L-JOINT units
# in both municipalities (other vendor), and one unlicensed event (a teacher is billable
# only under billable_roles, but unlicensed means no licence covers it: product
# norsk-1-7 is in no licence).
OCTOBER = [
    event("oct-1"),
    event("oct-2"),
    event("oct-3", school="974000008"),
    event("oct-4", product="norsk-1-7"),
    joint("oct-5", "974626993", quantity=3),
    joint("oct-6", "974000202", quantity=2),
]


async def headers(api: Api, scope: Scope, subject: str | None = None) -> dict[str, str]:
    return await api.headers(scope, subject or SUBJECTS[scope])


def assert_error(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error"] == code, body
    assert isinstance(body["detail"], str) and "\n" not in body["detail"]


AUDIT = frozenset({"auditor", "admin"})
OURS = f"{PERIOD}_{MUNICIPALITY}_{VENDOR}"

# Every route of this part with the scopes it serves (the others get 403).
ROUTES: list[tuple[str, str, frozenset[str]]] = [
    ("GET", "/v1/events/rejected", frozenset({"vendor"})),
    ("GET", f"/v1/settlements?period={PERIOD}", frozenset(SUBJECTS)),
    ("GET", f"/v1/settlements/{OURS}", frozenset(SUBJECTS)),
    ("GET", f"/v1/settlements/{OURS}/trace?line=1", AUDIT),
    ("GET", f"/v1/usage?period={PERIOD}", frozenset(SUBJECTS)),
    ("GET", "/v1/ledger/entries?chain=0", AUDIT),
    ("GET", "/v1/ledger/chains", AUDIT),
    ("GET", "/v1/ledger/verify/latest", AUDIT),
    ("POST", "/v1/ledger/verify", AUDIT),
    ("PUT", "/v1/catalogue", frozenset({"admin"})),
    ("POST", f"/v1/periods/{PERIOD}/settle", frozenset({"admin"})),
]  # fmt: skip


async def test_every_route_needs_a_token_and_the_right_scope(api: Api) -> None:
    tokens = {scope: await headers(api, scope) for scope in SUBJECTS}
    for method, path, allowed in ROUTES:
        assert_error(await api.client.request(method, path), 401, "unauthorized")
        bogus = {"Authorization": "Bearer lk_000000000000_" + "x" * 43}
        assert_error(await api.client.request(method, path, headers=bogus), 401, "unauthorized")
        for scope in set(SUBJECTS) - allowed:
            refused = await api.client.request(method, path, headers=tokens[scope])
            assert_error(refused, 403, "forbidden")


async def test_a_server_settles_only_once_the_worker_has_caught_up(api: Api) -> None:
    await send_events(api.ws, OCTOBER[:1])
    with pytest.raises(SettleRefused) as refused:
        await wait_for_ledger(api.ws, timeout_s=0.5)
    assert refused.value.code == LEDGER_BEHIND and "ledger worker" in str(refused.value)
    await process(api.ws)
    await wait_for_ledger(api.ws, timeout_s=0.5)


async def test_settlements_by_party_in_every_format_equal_the_export(
    api: Api, worker: None, tmp_path: Path
) -> None:
    admin = await headers(api, "admin")
    # Refused like `ledger settle`: not ended, nonsense, and (below) an open earlier period.
    assert_error(
        await api.client.post("/v1/periods/2999-01/settle", headers=admin), 409, "period_not_ended"
    )
    assert_error(
        await api.client.post("/v1/periods/2026-13/settle", headers=admin), 400, "invalid_period"
    )
    await send_events(api.ws, OCTOBER)  # the worker processes them: settle waits for it
    assert_error(
        await api.client.post("/v1/periods/2026-11/settle", headers=admin),
        409,
        "earlier_period_open",
    )
    preview = await api.client.post(f"/v1/periods/{PERIOD}/settle?dry_run=true", headers=admin)
    assert preview.status_code == 200 and preview.json()["dry_run"] is True
    settled = await api.client.post(f"/v1/periods/{PERIOD}/settle", headers=admin)
    assert settled.status_code == 200, settled.text
    issued = {s["id"]: s for s in settled.json()["settlements"]}
    assert {s["id"]: s["total"] for s in preview.json()["settlements"]} == {
        i: s["total"] for i, s in issued.items()
    }
    assert set(issued) == {
        f"{PERIOD}_{MUNICIPALITY}_{VENDOR}",
        f"{PERIOD}_{MUNICIPALITY}_{OTHER_VENDOR}",
        f"{PERIOD}_{OTHER_MUNICIPALITY}_{OTHER_VENDOR}",
    }
    assert_error(
        await api.client.post(f"/v1/periods/{PERIOD}/settle", headers=admin),
        409,
        "period_already_settled",
    )
    assert_error(
        await api.client.post("/v1/periods/2026-09/settle", headers=admin),
        409,
        "later_period_settled",
    )

    # Lists: each party its own, auditors everything; paged by id.
    async def listed(scope: Scope, subject: str | None = None, query: str = "") -> list[str]:
        answer = await api.client.get(
            f"/v1/settlements{query}", headers=await headers(api, scope, subject)
        )
        assert answer.status_code == 200, answer.text
        return [s["id"] for s in answer.json()["settlements"]]

    assert await listed("municipality", MUNICIPALITY, f"?period={PERIOD}") == sorted(
        i for i in issued if f"_{MUNICIPALITY}_" in i
    )
    assert await listed("municipality", OTHER_MUNICIPALITY) == [
        f"{PERIOD}_{OTHER_MUNICIPALITY}_{OTHER_VENDOR}"
    ]
    assert await listed("vendor", VENDOR) == [f"{PERIOD}_{MUNICIPALITY}_{VENDOR}"]
    assert await listed("auditor", query="?period=2026-09") == []
    auditor = await headers(api, "auditor")
    first = (await api.client.get("/v1/settlements?limit=2", headers=auditor)).json()
    rest = (
        await api.client.get(
            f"/v1/settlements?limit=2&cursor={first['next_cursor']}", headers=auditor
        )
    ).json()
    assert [s["id"] for s in first["settlements"] + rest["settlements"]] == sorted(issued)
    assert rest["next_cursor"] is None

    # One settlement: the exported file's bytes, in each format, by ?format= or Accept.
    exported = tmp_path / "export"
    for format_ in ("json", "csv", "ehf"):
        await export_period(api.ws, PERIOD, format_, exported)
    ours = f"{PERIOD}_{MUNICIPALITY}_{VENDOR}"
    municipality = await headers(api, "municipality", MUNICIPALITY)
    as_json = await api.client.get(f"/v1/settlements/{ours}", headers=municipality)
    assert as_json.status_code == 200 and as_json.headers["content-type"] == "application/json"
    assert as_json.content == (exported / f"{ours}.json").read_bytes()
    document = as_json.json()
    assert document_digest(document) == document["digest"] == issued[ours]["digest"]
    as_csv = await api.client.get(f"/v1/settlements/{ours}?format=csv", headers=municipality)
    assert as_csv.headers["content-type"].startswith("text/csv")
    assert as_csv.content == (exported / f"{ours}.csv").read_bytes()
    vendor = await headers(api, "vendor", VENDOR)
    as_ehf = await api.client.get(
        f"/v1/settlements/{ours}", headers={**vendor, "Accept": "application/xml"}
    )
    assert as_ehf.status_code == 200 and as_ehf.headers["content-type"] == "application/xml"
    assert as_ehf.content == (exported / f"{ours}.xml").read_bytes()
    weighted = {**municipality, "Accept": "application/json;q=0.5, text/csv"}
    assert (await api.client.get(f"/v1/settlements/{ours}", headers=weighted)).content == (
        as_csv.content
    )
    assert_error(
        await api.client.get(
            f"/v1/settlements/{ours}", headers={**municipality, "Accept": "image/png"}
        ),
        406,
        "not_acceptable",
    )

    # Another party's settlement is indistinguishable from one that does not exist.
    theirs = f"{PERIOD}_{OTHER_MUNICIPALITY}_{OTHER_VENDOR}"
    for path, token in [
        (f"/v1/settlements/{theirs}", municipality),
        (f"/v1/settlements/{theirs}?format=ehf", vendor),
        (f"/v1/settlements/{PERIOD}_{MUNICIPALITY}_{OTHER_VENDOR}", vendor),
        (f"/v1/settlements/2026-09_{MUNICIPALITY}_{VENDOR}", municipality),
        ("/v1/settlements/not-a-settlement", municipality),
        ("/v1/settlements/2026-13_3201_987654325", municipality),
    ]:
        assert_error(await api.client.get(path, headers=token), 404, "unknown_settlement")

    # Trace: the events behind a line, for auditors.
    line_no = next(
        n for n, line in enumerate(document["lines"], start=1) if line["licence"] == "L-SCHOOL"
    )
    trace = await api.client.get(
        f"/v1/settlements/{ours}/trace?line={line_no}&limit=1", headers=auditor
    )
    assert trace.status_code == 200, trace.text
    traced = trace.json()
    assert traced["licence"] == "L-SCHOOL" and traced["quantity"] == 2
    assert traced["events_total"] == 2 and len(traced["events"]) == 1
    following = await api.client.get(
        f"/v1/settlements/{ours}/trace?line={line_no}&offset={traced['next_offset']}",
        headers=auditor,
    )
    event_ids = {e["event_id"] for e in traced["events"] + following.json()["events"]}
    assert event_ids == {"oct-1", "oct-2"} and following.json()["next_offset"] is None
    assert_error(
        await api.client.get(f"/v1/settlements/{ours}/trace?line=99", headers=auditor),
        404,
        "unknown_line",
    )
    assert_error(
        await api.client.get(
            f"/v1/settlements/{PERIOD}_0301_{VENDOR}/trace?line=1", headers=auditor
        ),
        404,
        "unknown_settlement",
    )


async def test_rejections_feed_is_the_vendors_own_and_never_skips(api: Api) -> None:
    vendor = await headers(api, "vendor", VENDOR)
    first = [
        event("bad-1", quantity=0),
        event("bad-2", school="999999999"),
        event("fine-1"),
        event("bad-3", vendor=OTHER_VENDOR, product="eng-5-10"),  # vendor_mismatch
    ]
    sent = await api.client.post("/v1/events", json=first, headers=vendor)
    assert sent.status_code == 200, sent.text
    # Another vendor's rejection is never listed for this one.
    other = await headers(api, "vendor", OTHER_VENDOR)
    await api.client.post("/v1/events", json=[joint("their-bad", "999999999")], headers=other)
    await process(api.ws)

    events: list[dict[str, Any]] = []
    cursor = None
    for _ in range(5):
        query = "?limit=2" + (f"&cursor={cursor}" if cursor else "")
        page = (await api.client.get(f"/v1/events/rejected{query}", headers=vendor)).json()
        events += page["events"]
        cursor = page["next_cursor"]
        if not page["has_more"]:
            break
    assert sorted((e["event_id"], e["reason"]) for e in events) == [
        ("bad-1", "invalid_quantity"),
        ("bad-2", "unknown_school"),
        ("bad-3", "vendor_mismatch"),
    ]
    assert all(e["explanation"] and e["detail"] for e in events)

    # Later: the kept cursor gives only what was rejected since.
    await api.client.post("/v1/events", json=[event("bad-4", quantity=0)], headers=vendor)
    await process(api.ws)
    later = (await api.client.get(f"/v1/events/rejected?cursor={cursor}", headers=vendor)).json()
    assert [e["event_id"] for e in later["events"]] == ["bad-4"]
    assert later["has_more"] is False

    theirs = (await api.client.get("/v1/events/rejected", headers=other)).json()
    assert [e["event_id"] for e in theirs["events"]] == ["their-bad"]
    future = await api.client.get(
        "/v1/events/rejected", params={"since": "2999-01-01T00:00:00+01:00"}, headers=vendor
    )
    assert future.status_code == 200 and future.json()["events"] == []
    for bad in ("r1.!!!", "r2.AAAA", "r1.AAAA", "r1." + "A" * 10_000):
        refused = await api.client.get(
            "/v1/events/rejected", params={"cursor": bad}, headers=vendor
        )
        assert refused.status_code == 400, refused.text
    naive = await api.client.get(
        "/v1/events/rejected", params={"since": "2026-10-05T08:15:00"}, headers=vendor
    )
    assert_error(naive, 400, "invalid_parameter")


async def test_usage_month_to_date_per_party(api: Api) -> None:
    await send_events(api.ws, OCTOBER)
    await process(api.ws)

    async def usage(scope: Scope, subject: str | None = None) -> dict[str, Any]:
        answer = await api.client.get(
            f"/v1/usage?period={PERIOD}", headers=await headers(api, scope, subject)
        )
        assert answer.status_code == 200, answer.text
        result: dict[str, Any] = answer.json()
        return result

    ours = await usage("municipality", MUNICIPALITY)
    lines = {(item["licence"], item["municipality"]): item for item in ours["licences"]}
    assert set(lines) == {("L-SCHOOL", "3201"), ("L-LATER", "3201"), ("L-JOINT", "3201")}
    school = lines[("L-SCHOOL", "3201")]
    assert (school["quantity"], school["amount"], school["cap_applied"]) == (2, "14.00", False)
    assert school["schools"] == [{"school": "974626993", "quantity": 2}]
    shared = lines[("L-JOINT", "3201")]
    # Joint: its own quantity and share, and the licence's total (3 + 2 units at 0.50).
    assert (shared["quantity"], shared["amount"]) == (3, "1.50")
    assert (shared["licence_quantity"], shared["licence_amount"]) == (5, "2.50")
    assert ours["unlicensed"] == [
        {"municipality": "3201", "vendor": VENDOR, "events": 1, "learners": 1}
    ]

    asker = await usage("municipality", OTHER_MUNICIPALITY)
    assert [(i["licence"], i["quantity"], i["amount"]) for i in asker["licences"]] == [
        ("L-JOINT", 2, "1.00")
    ]
    assert asker["unlicensed"] == []
    sold = await usage("vendor", OTHER_VENDOR)
    assert {(i["licence"], i["municipality"]) for i in sold["licences"]} == {
        ("L-JOINT", "3201"),
        ("L-JOINT", "3203"),
    }
    everything = await usage("auditor")
    assert len(everything["licences"]) == 4

    # The command line's table is built from the same numbers.
    async with api.service.connection() as conn:
        rows = usage_rows(await usage_so_far(conn, PERIOD))
    assert ("L-SCHOOL", "3201", "all", "active_learners", "2", "14.00", "-") in rows
    assert ("L-SCHOOL", "3201", "974626993", "active_learners", "2", "", "") in rows
    assert ("UNLICENSED", "3201", VENDOR, "events / learners", "1 / 1", "", "") in rows

    assert_error(
        await api.client.get("/v1/usage?period=2026-13", headers=await headers(api, "auditor")),
        400,
        "invalid_period",
    )
    current = await api.client.get("/v1/usage", headers=await headers(api, "auditor"))
    assert current.status_code == 200 and current.json()["licences"] == []


def draft_from_json(entry: dict[str, Any]) -> EntryDraft:
    """An auditor's decoding of a listed entry, by the documented rules alone."""
    values: dict[str, Any] = {}
    for name in DRAFT_FIELDS:
        value = entry[name]
        if value is not None and name in BYTES_FIELDS:
            value = bytes.fromhex(value)
        elif value is not None and name in TIMESTAMP_FIELDS:
            value = datetime.fromisoformat(value)
        values[name] = value
    return EntryDraft(**values)


async def test_an_auditor_can_recompute_every_chain_and_run_verify(api: Api) -> None:
    await send_events(api.ws, [*OCTOBER, event("bad", quantity=0)])
    await process(api.ws)
    auditor = await headers(api, "auditor")
    latest = "/v1/ledger/verify/latest"
    assert_error(await api.client.get(latest, headers=auditor), 404, "no_verify_run")

    heads = (await api.client.get("/v1/ledger/chains", headers=auditor)).json()["chains"]
    assert heads and sum(head["seq"] for head in heads) >= len(OCTOBER) + 1
    listed = 0
    for head in heads:
        previous, from_seq, seen = GENESIS_HASH, 1, 0
        while True:
            page = (
                await api.client.get(
                    f"/v1/ledger/entries?chain={head['chain']}&from_seq={from_seq}&limit=2",
                    headers=auditor,
                )
            ).json()
            for entry in page["entries"]:
                seen += 1
                assert entry["seq"] == seen and bytes.fromhex(entry["prev_hash"]) == previous
                encoding = canonical_bytes(entry["chain"], entry["seq"], draft_from_json(entry))
                previous = entry_hash(previous, encoding)
                assert previous.hex() == entry["hash"]
            from_seq = page["next_from_seq"]
            if not page["has_more"]:
                break
        assert (seen, previous.hex()) == (head["seq"], head["hash"])
        listed += seen
    assert listed == sum(head["seq"] for head in heads)
    beyond = (
        await api.client.get("/v1/ledger/entries?chain=99&from_seq=5", headers=auditor)
    ).json()
    assert beyond == {
        "chain": 99, "encoding_version": 1, "entries": [], "next_from_seq": 5, "has_more": False,
    }  # fmt: skip

    verified = await api.client.post("/v1/ledger/verify", headers=auditor)
    assert verified.status_code == 200, verified.text
    result = verified.json()
    assert result["ok"] is True and result["entries_checked"] == listed
    assert result["first_damage"] is None
    assert (await api.client.get(latest, headers=auditor)).json() == result


async def test_catalogue_put_checks_like_the_command_line(api: Api) -> None:
    admin = await headers(api, "admin")
    yaml_text = CATALOGUE.read_text(encoding="utf-8")
    same = await api.client.put(
        "/v1/catalogue", content=yaml_text, headers={**admin, "Content-Type": "application/yaml"}
    )
    assert same.status_code == 200, same.text
    assert same.json()["changed"] is False and same.json()["version"] == 1

    # A new school, loaded as JSON, is known to the checks of the very next request.
    document = yaml.safe_load(yaml_text)
    document["municipalities"][1]["schools"].append(
        {"id": "974000210", "name": "Ny skole", "pupils": 10}
    )
    loaded = await api.client.put("/v1/catalogue", json=document, headers=admin)
    assert loaded.status_code == 200, loaded.text
    assert (loaded.json()["changed"], loaded.json()["version"]) == (True, 2)
    vendor = await headers(api, "vendor", OTHER_VENDOR)
    answer = await api.client.post(
        "/v1/events", json=[joint("new-school", "974000210")], headers=vendor
    )
    assert answer.json()["events"][0]["status"] == "received", answer.text

    # Refused whole, every problem listed, nothing applied.
    broken = json.loads(json.dumps(document))
    broken["vendors"][0]["org_no"] = "987654321"  # bad check digit
    broken["licences"][0]["pricing"]["unit_price"] = "ten"
    refused = await api.client.put("/v1/catalogue", json=broken, headers=admin)
    assert_error(refused, 400, "invalid_catalogue")
    problems = refused.json()["problems"]
    assert len(problems) >= 2 and any("987654321" in p for p in problems), problems
    again = await api.client.put("/v1/catalogue", json=document, headers=admin)
    assert (again.json()["changed"], again.json()["version"]) == (False, 2)

    assert_error(
        await api.client.put(
            "/v1/catalogue", content=b"\xff\xfe", headers={**admin, "Content-Type": "text/yaml"}
        ),
        400,
        "invalid_catalogue",
    )
    assert_error(
        await api.client.put(
            "/v1/catalogue", content=b"x", headers={**admin, "Content-Type": "image/png"}
        ),
        415,
        "unsupported_media_type",
    )
    too_large = b"#" * (4 * 1024 * 1024 + 1)
    assert_error(
        await api.client.put(
            "/v1/catalogue", content=too_large, headers={**admin, "Content-Type": "text/yaml"}
        ),
        413,
        "payload_too_large",
    )
