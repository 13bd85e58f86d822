"""The finance page as a municipality sees it: its numbers are the ledger's own accounts.

An open month's numbers are checked against `usage_so_far` (the month-to-date pricing
the API and CLI use), a settled month's against the settlement documents; warnings,
late-event sentences, the English switch, and that another municipality's licences,
schools and settlements never appear.
"""

from __future__ import annotations

import html
import re
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.app.api_service import ApiService
from ledger.app.budgets import set_budget
from ledger.app.finance_overview import LateAdjustment
from ledger.app.month_to_date import usage_so_far
from ledger.app.settle_run import settle
from ledger.app.tokens import create_token
from ledger.app.workspace import Workspace, ledger_connection, stream_target
from ledger.domain.money import parse_amount
from ledger.http.app import create_app
from ledger.http.ratelimit import RateLimiter
from ledger.http.web import finance_routes
from ledger.http.web.finance_routes import adjustment_sentence
from ledger.http.web.formatting import NBSP
from ledger.store.settlements import settlement_documents
from tests.http.conftest import Api
from tests.integration.conftest import event, load_catalogue, process, send_events
from tests.integration.test_finance_overview import (
    APPEN,
    ASKER,
    BAERUM,
    BEKKESTUA,
    EIKELI,
    FORLAG,
    HOFSTAD,
    MID_OCTOBER,
    catalogue_with_cap,
    october_events,
)

BROWSER = {"Accept": "text/html"}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", **BROWSER}


def rows(body: str, testid: str) -> dict[str, dict[str, str]]:
    """`data-licence` (or school|product) -> each cell's `data-testid` -> its `data-value`."""
    found: dict[str, dict[str, str]] = {}
    pattern = rf'<tr data-testid="{testid}" ([^>]*)>(.*?)</tr>'
    for attributes, row in re.findall(pattern, body, flags=re.DOTALL):
        keys = dict(re.findall(r'data-([\w-]+)="([^"]*)"', attributes))
        key = keys.get("licence") or f"{keys.get('school')}|{keys.get('product')}"
        found[key] = dict(re.findall(r'data-testid="([\w-]+)" data-value="(-?\d*)"', row))
        found[key].update(
            (name, value)
            for value, name in re.findall(r'data-value="(-?\d*)" data-testid="([\w-]+)"', row)
        )
    return found


def figure(body: str, testid: str) -> int:
    match = re.search(rf'data-testid="{testid}" data-value="(-?\d+)"', body)
    assert match, f"no {testid} on the page"
    return int(match.group(1))


def visible_text(body: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", " ", body)).replace(NBSP, " ")


async def finance(api: Api, token: str, query: str = "") -> httpx.Response:
    api.client.cookies.clear()
    return await api.client.get(f"/finance{query}", headers=bearer(token))


@pytest.fixture
def mid_october(monkeypatch: pytest.MonkeyPatch) -> date:
    """The page's Oslo today: 14 October 2026, 8 of its 20 school days gone."""
    monkeypatch.setattr(finance_routes, "oslo_today", lambda: MID_OCTOBER)
    return MID_OCTOBER


async def seed_october(ws: Workspace, tmp_path: Path) -> None:
    await load_catalogue(ws, catalogue_with_cap(tmp_path))
    await set_budget(
        ws, municipality=BAERUM, licence="L-LATER", amount="30.00",
        from_period="2026-10", standing=True, now=datetime.now(UTC),
    )  # fmt: skip
    await send_events(ws, october_events())
    await process(ws)


def assert_no_asker(body: str) -> None:
    text = visible_text(body)
    for foreign in (HOFSTAD, "Hofstad skole", "Asker"):
        assert foreign not in text and foreign not in body, foreign


def assert_no_baerum(body: str) -> None:
    for foreign in (EIKELI, BEKKESTUA, "Eikeli", "Bekkestua", "L-LATER", "L-SCHOOL", "Bærum"):
        assert foreign not in body, foreign


@pytest.mark.integration
async def test_the_open_month_is_usage_so_far_with_forecast_and_warnings(
    api: Api, tmp_path: Path, mid_october: date
) -> None:
    await seed_october(api.ws, tmp_path)
    token = await api.token("municipality", BAERUM)
    answer = await finance(api, token)  # the default month: today's, in Oslo
    assert answer.status_code == 200, answer.text
    body = answer.text
    async with ledger_connection(api.ws) as conn:
        usage = await usage_so_far(conn, "2026-10")
    mine = {item.licence: item for item in usage.licences if item.buyer == BAERUM}
    licences = rows(body, "finance-licence")
    assert set(licences) == {"L-ALL", "L-SCHOOL", "L-LATER", "L-JOINT"}
    for licence, cells in licences.items():
        expected = mine[licence].amount_ore if licence in mine else 0
        assert int(cells["amount"]) == expected, licence
        assert int(cells["forecast"]) >= expected
    assert figure(body, "finance-total") == sum(item.amount_ore for item in mine.values())
    assert figure(body, "finance-total") == 1_800 + 700 + 100
    assert figure(body, "finance-forecast") >= figure(body, "finance-total")
    assert licences["L-LATER"]["budget"] == "3000" and licences["L-LATER"]["forecast"] == "4500"
    assert licences["L-JOINT"]["cap"] == "300" and licences["L-ALL"]["cap"] == ""
    text = visible_text(body)
    assert "8 av 20 skoledager" in text
    assert "kr 18,00" in text and "kr 45,00" in text

    # Warnings, in a box screen readers announce, with the amounts in words.
    assert 'role="alert" data-testid="finance-warnings"' in body
    warnings = set(re.findall(r'data-licence="([\w-]+)" data-warning="(\w+)"', body))
    assert warnings == {("L-LATER", "forecast_exceeds_budget"), ("L-JOINT", "forecast_reaches_cap")}
    assert "Prognosen for L-LATER er kr 45,00, over budsjettet på kr 30,00." in text
    assert "taket er kr 3,00" in text

    # Value for money: 2 of 800 pupils use L-LATER, at kr 9,00 each: little used.
    value = rows(body, "finance-value")
    assert value["L-LATER"]["cost-per-pupil"] == "900"
    assert value["L-LATER"]["active-pupils"] == "2"
    assert value["L-LATER"]["pupils-covered"] == "800"
    assert re.search(r'data-licence="L-LATER" class="little-used"', body)
    assert "under 25 % av elevene" in text

    schools = rows(body, "finance-school")
    assert schools[f"{EIKELI}|matte-1-7"] == {"events": "3", "active-pupils": "2"}
    unlicensed = rows(body, "finance-unlicensed")
    assert unlicensed == {f"{EIKELI}|norsk-1-7": {"events": "2", "pupils": "2"}}
    assert 'data-testid="finance-adjustments-none"' in body
    assert 'data-testid="finance-downloads-none"' in body
    assert_no_asker(body)
    assert "<svg" in body and 'role="img"' in body and "<script" not in body

    english = await finance(api, token, "?period=2026-10&lang=en")
    english_text = visible_text(english.text)
    assert '<html lang="en">' in english.text
    assert "8 of 20 school days" in english_text
    assert "The forecast for L-LATER is NOK 45.00, over the budget of NOK 30.00." in english_text
    assert "Spend per vendor and licence" in english_text and "Unlicensed use" in english_text
    assert rows(english.text, "finance-licence") == licences  # the same numbers


@pytest.mark.integration
async def test_settled_months_are_the_documents_and_late_events_are_told_in_words(
    api: Api, tmp_path: Path, mid_october: date
) -> None:
    await seed_october(api.ws, tmp_path)
    target = stream_target(api.ws)
    await settle(api.ws, target, "2026-10", datetime(2026, 11, 2, tzinfo=UTC), dry_run=False)
    await send_events(
        api.ws,
        [
            event("late-1", school=EIKELI, learner="p7", occurred_at="2026-10-20T08:00:00Z"),
            event("n-1", school=EIKELI, learner="p1", occurred_at="2026-11-03T08:00:00Z"),
        ],
    )
    await process(api.ws)
    await settle(api.ws, target, "2026-11", datetime(2026, 12, 3, tzinfo=UTC), dry_run=False)
    token = await api.token("municipality", BAERUM)

    for period in ("2026-10", "2026-11"):
        body = (await finance(api, token, f"?period={period}")).text
        async with ledger_connection(api.ws) as conn:
            documents = [
                dict(d) for d in await settlement_documents(conn, period)
                if d["municipality"] == BAERUM
            ]  # fmt: skip
        assert_equals_documents(body, documents, period)
        assert_no_asker(body)
        assert "finance-forecast" not in body  # a settled month has no forecast

    november = (await finance(api, token, "?period=2026-11")).text
    sentences = re.findall(r'<li data-testid="finance-adjustment"[^>]*>(.*?)</li>', november)
    assert len(sentences) == 1
    assert visible_text(sentences[0]).startswith(
        "1 sen hendelse fra oktober 2026 økte L-LATER med kr 9,00"
    )
    assert "mengde +1" in visible_text(sentences[0])
    english = (await finance(api, token, "?period=2026-11&lang=en")).text
    assert "1 late event from October 2026 raised L-LATER by NOK 9.00" in visible_text(english)
    # Every settlement of Bærum is offered for download, newest first, and no other's.
    downloads = re.findall(r'data-testid="finance-download" data-settlement="([\w-]+)"', november)
    periods = [settlement.split("_")[0] for settlement in downloads]
    assert periods == sorted(periods, reverse=True)
    assert {d.split("_")[1] for d in downloads} == {BAERUM}
    assert f"2026-10_{BAERUM}_{APPEN}" in downloads and f"2026-11_{BAERUM}_{FORLAG}" in downloads
    assert f"/pages/settlements/2026-11_{BAERUM}_{FORLAG}?format=ehf" in november

    # Asker's page: the joint licence only, none of Bærum's schools, licences or settlements.
    asker = (await finance(api, await api.token("municipality", ASKER), "?period=2026-10")).text
    assert set(rows(asker, "finance-licence")) == {"L-JOINT"}
    assert_no_baerum(asker)
    assert f"_{BAERUM}_" not in asker
    refused = await api.client.get(
        f"/pages/settlements/2026-10_{BAERUM}_{APPEN}?format=json",
        headers=bearer(await api.token("municipality", ASKER)),
    )
    assert refused.status_code == 404


def assert_equals_documents(body: str, documents: list[dict[str, Any]], period: str) -> None:
    """Each licence's settled amount is its own lines', and the invoiced total the subtotals'."""
    licences = rows(body, "finance-licence")
    own: dict[str, int] = {}
    for document in documents:
        for line in document["lines"]:
            if not line.get("adjustment") and line["usage_period"] == period:
                own[line["licence"]] = own.get(line["licence"], 0) + parse_amount(line["amount"])
    for licence, cells in licences.items():
        assert int(cells["amount"]) == own.get(licence, 0), (period, licence)
    assert figure(body, "finance-total") == sum(own.values())
    assert figure(body, "finance-invoiced") == sum(parse_amount(d["subtotal"]) for d in documents)
    adjusted = sum(
        parse_amount(line["amount"]) for d in documents for line in d["lines"]
        if line.get("adjustment")
    )  # fmt: skip
    if adjusted:
        assert figure(body, "finance-adjustments-total") == adjusted


@pytest.mark.integration
async def test_other_roles_bad_months_and_empty_months(api: Api, mid_october: date) -> None:
    vendor = await finance(api, await api.token("vendor", FORLAG))
    assert vendor.status_code == 403 and 'data-testid="page-error"' in vendor.text
    token = await api.token("municipality", BAERUM)
    for bad in ("2026-13", "oktober", "2026-1"):
        answer = await finance(api, token, f"?period={bad}")
        assert answer.status_code == 400, bad
        assert "text/html" in answer.headers["content-type"]
        assert "Måneden må skrives ÅÅÅÅ-MM" in visible_text(answer.text)
    # Catalogue loaded, nothing used: zeros and the empty states, not an error.
    quiet = await finance(api, token, "?period=2027-03")
    assert quiet.status_code == 200
    assert figure(quiet.text, "finance-total") == 0
    for empty in ("schools", "unlicensed", "downloads"):
        assert f'data-testid="finance-{empty}-none"' in quiet.text
    # A licence-less month (before every licence began): the page says so.
    before = await finance(api, token, "?period=2026-01")
    assert 'data-testid="finance-licences-none"' in before.text


@pytest.mark.integration
async def test_a_workspace_without_a_catalogue_gets_an_explanation(workspace: Workspace) -> None:
    bare = create_app(ApiService(workspace), rate_limiter=RateLimiter(10_000, 10_000))
    bare_token = (await create_token(workspace, "municipality", BAERUM)).token
    transport = httpx.ASGITransport(app=bare)
    async with httpx.AsyncClient(transport=transport, base_url="http://ledger.test") as client:
        answer = await client.get("/finance", headers=bearer(bare_token))
    assert answer.status_code == 200, answer.text
    assert 'data-testid="finance-no-catalogue"' in answer.text


def late(count: int, change_ore: int) -> LateAdjustment:
    return LateAdjustment(
        settlement_id="2026-11_3201_987654325",
        vendor=FORLAG,
        usage_period="2026-09",
        licence="L-2026-001",
        late_events=count,
        quantity_change=count,
        amount_change_ore=change_ore,
    )


def test_adjustment_sentences_read_as_written() -> None:
    assert (
        adjustment_sentence(late(12, 15_000), "nb")
        == f"12 sene hendelser fra september 2026 økte L-2026-001 med kr{NBSP}150,00"
    )
    assert (
        adjustment_sentence(late(12, 15_000), "en")
        == "12 late events from September 2026 raised L-2026-001 by NOK 150.00"
    )
    assert adjustment_sentence(late(1, -900), "nb").startswith("1 sen hendelse fra september")
    assert "reduserte L-2026-001 med kr" in adjustment_sentence(late(1, -900), "nb")
    assert "1 late event from September 2026 lowered" in adjustment_sentence(late(1, -900), "en")
    shared = adjustment_sentence(late(0, -50), "nb")
    assert "andre kjøperne av felleslisensen reduserte" in shared


@given(
    count=st.integers(min_value=0, max_value=10**7),
    change=st.integers(min_value=-(10**12), max_value=10**12).filter(lambda n: n != 0),
    language=st.sampled_from(["nb", "en"]),
)
def test_every_adjustment_says_its_direction_count_and_amount(
    count: int, change: int, language: Any
) -> None:
    sentence = adjustment_sentence(late(count, change), language)
    up = {"nb": "økte", "en": "raised"}[language]
    down = {"nb": "reduserte", "en": "lowered"}[language]
    assert (up in sentence) == (change > 0) and (down in sentence) == (change < 0)
    kroner = f"{abs(change) // 100:,}".replace(",", NBSP if language == "nb" else ",")
    assert kroner in sentence and "-" not in sentence.replace("L-2026-001", "")
    if count:
        assert sentence.startswith(f"{count:,}".replace(",", NBSP if language == "nb" else ","))
        singular = {"nb": "sen hendelse ", "en": "late event "}[language]
        assert (singular in sentence) == (count == 1)
