"""The pages on the real services, as a browser uses them: sign-in, scopes, and exact numbers.

The numbers a page shows are checked against an independent account of the same
facts: the outcome the API answered for each event sent (`POST /v1/events?wait=`),
and the settlement documents the API serves.
"""

from __future__ import annotations

import html
import re
from collections import Counter
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from ledger.domain.tokens import Scope
from ledger.http.app import create_app
from ledger.http.ratelimit import RateLimiter
from tests.http.conftest import MUNICIPALITY, OTHER_MUNICIPALITY, OTHER_VENDOR, VENDOR, Api, event

pytestmark = pytest.mark.integration

ORIGIN = {"Origin": "http://ledger.test"}
BROWSER = {"Accept": "text/html,application/xhtml+xml"}
PERIOD = "2026-10"
OSLO = ZoneInfo("Europe/Oslo")
SUBJECTS: dict[Scope, str] = {
    "vendor": VENDOR,
    "municipality": MUNICIPALITY,
    "auditor": "Riksrevisjonen",
    "admin": "operator",
}
HOMES: dict[Scope, str] = {
    "vendor": "/vendor",
    "municipality": "/finance",
    "auditor": "/auditor",
    "admin": "/auditor",
}

# The vendor's October: licensed, unlicensed, a duplicate, rejections, and the month's
# edges on Oslo's clock (22:30Z on 30 September is 1 October in Oslo; 23:30Z on
# 31 October is already November).
VENDOR_EVENTS = [
    event("v-1", occurred_at="2026-10-05T08:15:00Z"),
    event("v-2", occurred_at="2026-10-06T09:00:00Z", learner="l-2"),
    event("v-3", product="norsk-1-7", occurred_at="2026-10-05T10:00:00Z"),
    event("v-1", occurred_at="2026-10-05T08:15:00Z"),  # the same event again: a duplicate
    event("v-4", quantity=0, occurred_at="2026-10-06T10:00:00Z"),
    event("v-5", school="999999999", occurred_at="2026-10-07T10:00:00Z"),
    event("v-6", occurred_at="2026-09-30T22:30:00Z"),
    event("v-7", occurred_at="2026-10-31T23:30:00Z"),
    event("v-8", vendor=OTHER_VENDOR, product="eng-5-10", occurred_at="2026-10-07T11:00:00Z"),
]
OTHER_VENDOR_EVENTS = [
    event("o-1", vendor=OTHER_VENDOR, product="eng-5-10", occurred_at="2026-10-05T08:00:00Z"),
    event(
        "o-2",
        vendor=OTHER_VENDOR,
        product="eng-5-10",
        school="974000202",
        occurred_at="2026-10-05T08:00:00Z",
    ),
    event("o-3", vendor=OTHER_VENDOR, product="eng-5-10", quantity=0),
]


async def token(api: Api, scope: Scope, subject: str | None = None) -> str:
    return await api.token(scope, subject or SUBJECTS[scope])


def bearer(value: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {value}"}


async def page(api: Api, path: str, **headers: str) -> httpx.Response:
    """A GET as a browser, with no cookie unless given."""
    api.client.cookies.clear()
    return await api.client.get(path, headers={**BROWSER, **headers})


def values(fragment: str) -> dict[str, int]:
    """The `data-value` of each element with a `data-testid` (the last one of a name wins)."""
    found: dict[str, int] = {}
    for tag in re.findall(r"<[^>]*\bdata-testid=[^>]*>", fragment):
        name = re.search(r'data-testid="([\w-]+)"', tag)
        value = re.search(r'data-value="(-?\d+)"', tag)
        if name and value:
            found[name.group(1)] = int(value.group(1))
    return found


def day_rows(body: str) -> dict[str, dict[str, int]]:
    rows = re.findall(
        r'<tr data-testid="vendor-day" data-day="([0-9-]+)">(.*?)</tr>', body, flags=re.DOTALL
    )
    return {day: values(row) for day, row in rows}


async def send(api: Api, scope_token: str, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    answer = await api.client.post("/v1/events?wait=30", json=events, headers=bearer(scope_token))
    assert answer.status_code == 200, answer.text
    outcomes: list[dict[str, Any]] = answer.json()["events"]
    assert all(o["status"] != "pending" for o in outcomes), outcomes
    return outcomes


async def test_sign_in_sets_a_strict_http_only_cookie_and_opens_each_kind_of_page(
    api: Api,
) -> None:
    for scope, home in HOMES.items():
        api.client.cookies.clear()
        signed = await api.client.post(
            "/sign-in", data={"token": await token(api, scope)}, headers=ORIGIN
        )
        assert signed.status_code == 303, signed.text
        assert signed.headers["location"] == home
        cookie = signed.headers["set-cookie"]
        assert cookie.startswith("ledger_session=lk_")
        attributes = {part.strip().lower() for part in cookie.split(";")}
        assert {"httponly", "samesite=strict", "path=/"} <= attributes
        assert "secure" not in attributes  # plain http here; https requests get Secure
        opened = await api.client.get(home, headers=BROWSER)  # the cookie jar sends it
        assert opened.status_code == 200, opened.text
        assert '<html lang="nb">' in opened.text
        assert 'data-testid="sign-out"' in opened.text
        assert opened.headers["cache-control"] == "no-store"
    # Signing out clears the cookie; the page then sends a browser back to the front page.
    left = await api.client.post("/sign-out", headers=ORIGIN)
    assert left.status_code == 303 and left.headers["location"] == "/"
    assert 'ledger_session=""' in left.headers["set-cookie"]
    assert "max-age=0" in left.headers["set-cookie"].lower()
    back = await api.client.get("/auditor", headers=BROWSER)
    assert back.status_code == 303 and back.headers["location"] == "/"


async def test_a_bad_token_gets_the_form_again_with_a_clear_message(api: Api) -> None:
    for bad in ("lk_000000000000_" + "A" * 43, "nonsense", ""):
        answer = await api.client.post("/sign-in", data={"token": bad}, headers=ORIGIN)
        assert answer.status_code == 401
        assert 'data-testid="sign-in-error"' in answer.text
        assert "Nøkkelen er ikke gyldig" in answer.text
        assert 'aria-invalid="true"' in answer.text and "set-cookie" not in answer.headers
    front = await page(api, "/")
    assert front.status_code == 200
    assert '<label for="token">' in front.text and 'id="token"' in front.text


async def test_forms_from_another_site_are_refused(api: Api) -> None:
    vendor = await token(api, "vendor")
    for headers in ({}, {"Origin": "https://evil.example"}, {"Referer": "https://evil.example/"}):
        api.client.cookies.clear()
        answer = await api.client.post("/sign-in", data={"token": vendor}, headers=headers)
        assert answer.status_code == 403, headers
        assert "set-cookie" not in answer.headers
    api.client.cookies.set("ledger_session", await token(api, "auditor"))
    assert (await api.client.post("/sign-out")).status_code == 403
    assert (await api.client.post("/auditor/verify")).status_code == 403
    same_site = await api.client.post(
        "/sign-in", data={"token": vendor}, headers={"Referer": "http://ledger.test/"}
    )
    assert same_site.status_code == 303


async def test_bearer_and_cookie_both_work_and_scopes_are_enforced(api: Api) -> None:
    vendor, municipality = await token(api, "vendor"), await token(api, "municipality")
    auditor, admin = await token(api, "auditor"), await token(api, "admin")
    assert (await page(api, "/vendor", **bearer(vendor))).status_code == 200
    api.client.cookies.clear()
    api.client.cookies.set("ledger_session", vendor)
    cookie_answer = await api.client.get("/vendor", headers=BROWSER)
    assert cookie_answer.status_code == 200
    assert (await page(api, "/finance", **bearer(municipality))).status_code == 200
    finance_page = await page(api, "/finance", **bearer(municipality))
    assert 'data-testid="finance-total"' in finance_page.text
    assert (await page(api, "/auditor", **bearer(admin))).status_code == 200
    for path, wrong in (
        ("/vendor", municipality),
        ("/vendor", auditor),
        ("/auditor", vendor),
        ("/auditor", municipality),
        ("/finance", vendor),
        ("/finance", auditor),
        ("/auditor/trace/2026-10_3201_987654325?line=1", vendor),
    ):
        refused = await page(api, path, **bearer(wrong))
        assert refused.status_code == 403, (path, refused.text)
        assert 'data-testid="page-error"' in refused.text
    # Nobody signed in: a browser goes to the sign-in page, anything else gets 401.
    assert (await page(api, "/vendor")).headers["location"] == "/"
    api.client.cookies.clear()
    machine = await api.client.get("/vendor")
    assert machine.status_code == 401 and machine.headers["www-authenticate"] == "Bearer"
    api.client.cookies.set("ledger_session", "lk_000000000000_" + "A" * 43)
    revoked_cookie = await api.client.get("/vendor", headers=BROWSER)
    assert revoked_cookie.status_code == 303
    assert "max-age=0" in revoked_cookie.headers["set-cookie"].lower()


async def test_pages_are_not_in_the_openapi_description(api: Api) -> None:
    paths = (await api.client.get("/openapi.json")).json()["paths"]
    assert not {"/", "/sign-in", "/sign-out", "/vendor", "/auditor", "/finance"} & set(paths)
    assert not [path for path in paths if path.startswith(("/pages", "/auditor", "/static"))]
    css = await api.client.get("/static/style.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")


async def test_english_switch_changes_the_labels_and_is_remembered(api: Api) -> None:
    vendor = bearer(await token(api, "vendor"))
    norwegian = await page(api, "/vendor", **vendor)
    assert '<html lang="nb">' in norwegian.text and "Hendelser per dag" in norwegian.text
    assert 'href="/vendor?lang=en"' in norwegian.text  # the visible switch
    api.client.cookies.clear()
    english = await api.client.get("/vendor?lang=en", headers={**BROWSER, **vendor})
    assert '<html lang="en">' in english.text and "Events per day" in english.text
    assert "Hendelser per dag" not in english.text
    assert english.cookies.get("lang") == "en"
    remembered = await api.client.get("/vendor", headers={**BROWSER, **vendor})
    assert '<html lang="en">' in remembered.text


async def test_the_vendor_page_counts_what_the_ledger_recorded_per_day(
    api: Api, worker: None
) -> None:
    vendor_token = await token(api, "vendor")
    outcomes = await send(api, vendor_token, VENDOR_EVENTS)
    await send(api, await token(api, "vendor", OTHER_VENDOR), OTHER_VENDOR_EVENTS)

    # The expectation, from the API's answer per event and the Oslo day it occurred.
    expected: dict[str, Counter[str]] = {}
    for sent, outcome in zip(VENDOR_EVENTS, outcomes, strict=True):
        occurred = datetime.fromisoformat(sent["occurred_at"]).astimezone(OSLO).date()
        if occurred.strftime("%Y-%m") != PERIOD:
            continue
        counts = expected.setdefault(occurred.isoformat(), Counter())
        status = outcome["status"]
        key = f"rejected-{outcome['reason']}" if status == "rejected" else status
        counts[{"duplicate": "duplicates"}.get(key, key)] += 1
        counts["received"] += 1
    assert sum(c["rejected-invalid_quantity"] for c in expected.values()) == 1
    assert sum(c["duplicates"] for c in expected.values()) == 1

    shown = await page(api, f"/vendor?period={PERIOD}", **bearer(vendor_token))
    assert shown.status_code == 200, shown.text
    rows = day_rows(shown.text)
    assert len(rows) == 31
    for day, row in rows.items():
        assert {k: v for k, v in row.items() if v} == dict(expected.get(day, Counter())), day
    totals = values(shown.text.split('data-testid="vendor-totals"')[1].split("</dl>")[0])
    assert totals["vendor-total-received"] == sum(c["received"] for c in expected.values())
    assert totals["vendor-total-rejected"] == sum(
        n for c in expected.values() for k, n in c.items() if k.startswith("rejected-")
    )
    assert 'role="img"' in shown.text and "<script" not in shown.text
    # The rejected events to correct: exactly the vendor's, as its rejections feed lists them.
    feed = await api.client.get("/v1/events/rejected", headers=bearer(vendor_token))
    listed = re.findall(r'<code data-testid="event-id">([^<]*)</code>', shown.text)
    assert sorted(listed) == sorted(e["event_id"] for e in feed.json()["events"])
    assert "o-3" not in listed and "o-1" not in shown.text
    # The open month: what each municipality owes so far, from the same pricing as /v1/usage.
    usage = await api.client.get(f"/v1/usage?period={PERIOD}", headers=bearer(vendor_token))
    owed: Counter[str] = Counter()
    for item in usage.json()["licences"]:
        owed[item["municipality"]] += round(float(item["amount"]) * 100)
    to_date = re.findall(
        r'data-testid="to-date-municipality" data-municipality="(\d+)">.*?'
        r'data-value="(-?\d+)" data-testid="amount"',
        shown.text,
        flags=re.DOTALL,
    )
    assert {m: int(v) for m, v in to_date} == dict(owed) and owed


async def test_settled_pages_show_the_documents_and_no_other_partys(api: Api, worker: None) -> None:
    await send(api, await token(api, "vendor"), VENDOR_EVENTS[:3])
    await send(api, await token(api, "vendor", OTHER_VENDOR), OTHER_VENDOR_EVENTS[:2])
    admin = bearer(await token(api, "admin"))
    settled = await api.client.post(f"/v1/periods/{PERIOD}/settle", headers=admin)
    assert settled.status_code == 200, settled.text
    auditor = bearer(await token(api, "auditor"))
    documents = {}
    for item in settled.json()["settlements"]:
        answer = await api.client.get(f"/v1/settlements/{item['id']}", headers=auditor)
        documents[item["id"]] = answer.json()
    ours = f"{PERIOD}_{MUNICIPALITY}_{VENDOR}"
    theirs = f"{PERIOD}_{OTHER_MUNICIPALITY}_{OTHER_VENDOR}"
    assert {ours, theirs} <= set(documents)

    # Vendor: its own settlements of the month, with the document's totals, and nothing else.
    vendor = bearer(await token(api, "vendor"))
    shown = await page(api, f"/vendor?period={PERIOD}", **vendor)
    listed = re.findall(r'data-testid="settlement" data-settlement="([^"]+)"', shown.text)
    assert listed == [ours]
    total = re.search(r'data-value="([0-9.]+)" data-testid="total"', shown.text)
    assert total is not None and total.group(1) == documents[ours]["total"]
    assert "kr\u00a0" in shown.text

    # Downloads: the API's bytes, as an attachment named as `ledger export` names it.
    for format_ in ("json", "csv", "ehf"):
        download = await page(api, f"/pages/settlements/{ours}?format={format_}", **vendor)
        assert download.status_code == 200, download.text
        from_api = await api.client.get(f"/v1/settlements/{ours}?format={format_}", headers=vendor)
        assert download.content == from_api.content
        suffix = {"json": ".json", "csv": ".csv", "ehf": ".xml"}[format_]
        assert re.fullmatch(
            rf'attachment; filename="{ours}[^"]*{re.escape(suffix)}"',
            download.headers["content-disposition"],
        ), download.headers["content-disposition"]
    parties: tuple[tuple[Scope, str, str], ...] = (
        ("vendor", VENDOR, theirs),
        ("vendor", OTHER_VENDOR, ours),
        ("municipality", OTHER_MUNICIPALITY, ours),
        ("municipality", MUNICIPALITY, theirs),
    )
    for scope, subject, other in parties:
        refused = await page(
            api,
            f"/pages/settlements/{other}?format=json",
            **bearer(await token(api, scope, subject)),
        )
        assert refused.status_code == 404, (scope, subject, other)
        assert documents[other]["digest"] not in refused.text
    other_vendor_page = await page(
        api, f"/vendor?period={PERIOD}", **bearer(await token(api, "vendor", OTHER_VENDOR))
    )
    assert ours not in other_vendor_page.text

    # Auditor: every settlement of the period with the digest its document carries.
    audit = await page(api, f"/auditor?period={PERIOD}", **auditor)
    assert audit.status_code == 200, audit.text
    digests = dict(
        re.findall(
            r'data-settlement="([^"]+)">.*?<code class="hash" data-testid="digest">([^<]+)</code>',
            audit.text,
            flags=re.DOTALL,
        )
    )
    assert digests == {i: d["digest"] for i, d in documents.items()}
    heads = (await api.client.get("/v1/ledger/chains", headers=auditor)).json()["chains"]
    for head in heads:
        assert head["hash"] in audit.text
    # The latest period is the default; a verify run started from the page shows its result.
    assert 'data-settlement="' in (await page(api, "/auditor", **auditor)).text
    api.client.cookies.clear()
    started = await api.client.post("/auditor/verify", headers={**auditor, **ORIGIN})
    assert started.status_code == 303
    verified = await page(api, "/auditor", **auditor)
    assert 'data-testid="verify-status" data-value="ok"' in verified.text

    # Tracing a line: the events the API's trace gives, paged the same way.
    line = next(
        n for n, item in enumerate(documents[ours]["lines"], start=1) if item["quantity"] > 0
    )
    trace = await api.client.get(f"/v1/settlements/{ours}/trace?line={line}", headers=auditor)
    traced = await page(api, f"/auditor/trace/{ours}?line={line}", **auditor)
    assert traced.status_code == 200, traced.text
    total_events = re.search(r'data-testid="trace-events-total" data-value="(\d+)"', traced.text)
    assert total_events is not None
    assert int(total_events.group(1)) == trace.json()["events_total"]
    for item in trace.json()["events"]:
        assert html.escape(item["event_id"]) in traced.text
    missing = await page(api, f"/auditor/trace/{ours}?line=99", **auditor)
    assert missing.status_code == 404


async def test_over_https_the_session_cookie_is_secure(api: Api) -> None:
    app = create_app(api.service, rate_limiter=RateLimiter(10_000, 10_000))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="https://ledger.test") as client:
        signed = await client.post(
            "/sign-in",
            data={"token": await token(api, "vendor")},
            headers={"Origin": "https://ledger.test"},
        )
    assert signed.status_code == 303
    attributes = {part.strip().lower() for part in signed.headers["set-cookie"].split(";")}
    assert {"secure", "httponly", "samesite=strict"} <= attributes
