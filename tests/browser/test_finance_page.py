"""The finance page in a real browser, as Bærum's finance office uses it.

Signed in with the form, the month picked with the picker: the numbers on the page are
the settlement documents the API serves; each download works and its e-invoice passes
the official rules; Asker's settlement is out of reach; the page reads in English too.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from playwright.async_api import Page

from ledger.app.budgets import set_budget
from ledger.app.ehf_check import check_ehf_files
from ledger.app.workspace import open_workspace
from ledger.domain.money import parse_amount
from tests.browser.conftest import OpenPage, PageProblems
from tests.browser.support import (
    MUNICIPALITY,
    OTHER_MUNICIPALITY,
    OTHER_VENDOR,
    PERIOD,
    VENDOR,
    Site,
    screenshot,
    sign_in,
)

api_timeout_s = 30
OURS = f"{PERIOD}_{MUNICIPALITY}_{VENDOR}"
THEIRS = f"{PERIOD}_{OTHER_MUNICIPALITY}_{OTHER_VENDOR}"


async def documents_of(site: Site, party: str) -> dict[str, dict[str, Any]]:
    """The party's settlements of PERIOD, as the API serves them (the page's independent check)."""
    headers = {"Authorization": f"Bearer {site.token(party)}"}
    async with httpx.AsyncClient(base_url=site.base_url, timeout=api_timeout_s) as client:
        listed = await client.get(f"/v1/settlements?period={PERIOD}", headers=headers)
        assert listed.status_code == 200, listed.text
        found: dict[str, dict[str, Any]] = {}
        for item in listed.json()["settlements"]:
            answer = await client.get(f"/v1/settlements/{item['id']}", headers=headers)
            assert answer.status_code == 200, answer.text
            found[item["id"]] = answer.json()
    return found


async def show_month(page: Page, period: str) -> None:
    """Pick the month with the labelled picker and show it, as a person would."""
    await page.get_by_label(re.compile("^(Måned|Month)$")).select_option(period)
    async with page.expect_navigation():
        await page.get_by_role("button", name=re.compile("^(Vis|Show)$")).click()


async def value_of(page: Page, selector: str) -> int:
    value = await page.locator(selector).first.get_attribute("data-value")
    assert value is not None and value != "", selector
    return int(value)


async def test_the_numbers_are_the_settlements_and_downloads_work(
    page: Page, site: Site, tmp_path: Path
) -> None:
    # Bærum meant to spend kr 40,00 on L-SCHOOL in October; 7 pupils at kr 7,00 cost more.
    await set_budget(
        await open_workspace(site.workspace), municipality=MUNICIPALITY, licence="L-SCHOOL",
        amount="40.00", from_period=PERIOD, standing=False, now=datetime.now(UTC),
    )  # fmt: skip
    await sign_in(page, site.token("municipality"))
    assert page.url.endswith("/finance")
    await show_month(page, PERIOD)
    assert f"period={PERIOD}" in page.url
    assert "gjort opp" in await page.get_by_test_id("period-status").inner_text()
    documents = await documents_of(site, "municipality")
    assert set(documents) == {OURS, f"{PERIOD}_{MUNICIPALITY}_{OTHER_VENDOR}"}

    own: dict[str, int] = {}
    for document in documents.values():
        for line in document["lines"]:
            if not line.get("adjustment"):
                own[line["licence"]] = own.get(line["licence"], 0) + parse_amount(line["amount"])
    rows = page.get_by_test_id("finance-licences-table").locator('[data-testid="finance-licence"]')
    shown = {
        str(await row.get_attribute("data-licence")): int(
            str(await row.locator('[data-testid="amount"]').get_attribute("data-value"))
        )
        for row in await rows.all()
    }
    assert shown == {licence: own.get(licence, 0) for licence in shown}
    assert set(own) <= set(shown)
    assert await value_of(page, '[data-testid="finance-invoiced"]') == sum(
        parse_amount(d["subtotal"]) for d in documents.values()
    )
    budget = page.locator('[data-testid="finance-licence"][data-licence="L-SCHOOL"]')
    assert await budget.locator('[data-testid="budget"]').get_attribute("data-value") == "4000"
    warning = page.get_by_role("alert").get_by_test_id("finance-warning")
    assert await warning.count() == 1
    assert "L-SCHOOL kostet kr 49,00, over budsjettet på kr 40,00." in (
        (await warning.inner_text()).replace("\xa0", " ")
    )
    # The licences chart is drawn from the same numbers, with a text alternative.
    chart = page.get_by_test_id("finance-licences-chart").locator("svg")
    assert await chart.get_attribute("role") == "img"
    # Unlicensed use: norsk-1-7 at Bekkestua, the three events the settlement counts.
    unlicensed = page.locator('[data-testid="finance-unlicensed"][data-product="norsk-1-7"]')
    assert await value_of(page, '[data-testid="finance-unlicensed"] [data-testid="events"]') == 3
    assert await unlicensed.count() == 1
    assert documents[OURS]["unlicensed"]["events"] == 3
    # Nothing of Asker's: its school and its settlement are not on the page.
    content = await page.content()
    assert "Hofstad" not in content and THEIRS not in content
    await screenshot(page, "finance")

    row = page.locator(f'[data-testid="finance-download"][data-settlement="{OURS}"]')
    for kind in ("json", "csv", "ehf"):
        async with page.expect_download() as started:
            await row.get_by_test_id(f"download-{kind}").click()
        download = await started.value
        assert download.suggested_filename.startswith(OURS), download.suggested_filename
        saved = tmp_path / download.suggested_filename
        await download.save_as(saved)
        if kind == "json":
            assert json.loads(saved.read_text(encoding="utf-8")) == documents[OURS]
        elif kind == "csv":
            csv_text = saved.read_text(encoding="utf-8-sig")
            assert all(line["licence"] in csv_text for line in documents[OURS]["lines"])
        else:
            report = check_ehf_files([saved])[saved]
            assert report.valid, report.failures


async def test_another_municipalitys_settlement_is_out_of_reach(
    page: Page, site: Site, page_problems: PageProblems
) -> None:
    page_problems.allow(r"status of 404")
    await sign_in(page, site.token("municipality"))
    for kind in ("json", "csv", "ehf"):
        answer = await page.goto(f"/pages/settlements/{THEIRS}?format={kind}")
        assert answer is not None and answer.status == 404, kind
        assert await page.get_by_test_id("page-error").count() == 1
    # Asker's own page has its joint licence and nothing of Bærum's.
    asker = await sign_in_elsewhere(page, site)
    assert "Bekkestua" not in asker and "L-LATER" not in asker and OURS not in asker


async def sign_in_elsewhere(page: Page, site: Site) -> str:
    await page.context.clear_cookies()
    await sign_in(page, site.token("other_municipality"))
    await show_month(page, PERIOD)
    licences = page.locator('[data-testid="finance-licence"]')
    assert [await row.get_attribute("data-licence") for row in await licences.all()] == ["L-JOINT"]
    return await page.content()


async def test_the_page_switches_to_english_and_remembers_it(
    open_page: OpenPage, site: Site
) -> None:
    page = await open_page(token=site.token("municipality"), locale="en-GB")
    answer = await page.goto(f"/finance?period={PERIOD}")
    assert answer is not None and answer.status == 200
    assert await page.get_by_role("heading", name="Forbruk per leverandør og lisens").count()
    async with page.expect_navigation():
        await page.get_by_test_id("lang-switch").click()
    assert await page.locator("html").get_attribute("lang") == "en"
    assert await page.get_by_role("heading", name="Spend per vendor and licence").count()
    invoiced = page.get_by_test_id("finance-invoiced")
    assert re.fullmatch(r"NOK [\d,]+\.\d\d", (await invoiced.inner_text()).strip())
    await screenshot(page, "finance-en")
    # The choice is remembered: the month picker keeps the page in English.
    await show_month(page, PERIOD)
    assert await page.locator("html").get_attribute("lang") == "en"
