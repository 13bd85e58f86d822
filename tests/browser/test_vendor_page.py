"""The vendor page in a real browser, signed in as Example Forlag AS (987654325).

What the page shows is checked against accounts kept apart from it: the outcome the
API answered for each event the site sent (`site.answers`), the Oslo day each event
occurred (the seed itself), and the settlement files `ledger export` writes.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from playwright.async_api import Locator, Page

from tests.browser.conftest import OpenPage, PageProblems, seeded_events
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
from tests.ehf import validator
from tests.integration.conftest import ledger_cli

OSLO = ZoneInfo("Europe/Oslo")
OURS = f"{PERIOD}_{MUNICIPALITY}_{VENDOR}"  # Bærum pays Example Forlag
THEIRS = f"{PERIOD}_{OTHER_MUNICIPALITY}_{OTHER_VENDOR}"  # Asker pays Læringsappen
VENDOR_PAGE = f"/vendor?period={PERIOD}"
SPACES = re.compile(r"[\s\u00a0\u202f]")  # thousands groups: (narrow) no-break spaces
request_timeout_s = 30


def expected_days(site: Site) -> dict[str, Counter[str]]:
    """Per Oslo day of use: how many of the vendor's events the API answered with each outcome.

    Keys as the page's cells name them: received, accepted, unlicensed, duplicates and
    rejected-<reason>.
    """
    ours, _ = seeded_events()
    answers = site.answers[: len(ours)]  # the vendor's batch was sent first
    days: dict[str, Counter[str]] = {}
    for sent, answer in zip(ours, answers, strict=True):
        assert answer["event_id"] == sent["event_id"], (sent, answer)
        day = datetime.fromisoformat(sent["occurred_at"]).astimezone(OSLO).date().isoformat()
        status = answer["status"]
        cell = {
            "accepted": "accepted",
            "unlicensed": "unlicensed",
            "duplicate": "duplicates",
            "rejected": f"rejected-{answer['reason']}",
        }[status]
        counts = days.setdefault(day, Counter())
        counts[cell] += 1
        counts["received"] += 1
    return days


def count_of(shown: str) -> int:
    """A reader's parse of a count as the page writes it (`1 234`)."""
    return int(SPACES.sub("", shown))


def kroner_of(shown: str) -> Decimal:
    """A reader's parse of `kr 12 687,50` (bokmål), independent of the page's formatter."""
    number = SPACES.sub("", shown)
    assert number.startswith("kr"), shown
    return Decimal(number.removeprefix("kr").replace(",", "."))


async def cells(row: Locator) -> dict[str, int]:
    """Each numeric cell of a row by its test id, its visible text checked against data-value."""
    found: dict[str, int] = {}
    for cell in await row.locator("td[data-testid]").all():
        name = await cell.get_attribute("data-testid")
        value = await cell.get_attribute("data-value")
        assert name is not None and value is not None
        assert count_of(await cell.inner_text()) == int(value), name
        found[name] = int(value)
    return found


def settlement_files(site: Site, folder: Path) -> dict[str, dict[str, Any]]:
    """The period's settlement documents as `ledger export` writes them, by id."""
    ledger_cli(
        "export",
        "--period",
        PERIOD,
        "--format",
        "json",
        "--out",
        str(folder),
        "--workspace",
        site.workspace,
    )
    return {path.stem: json.loads(path.read_text("utf-8")) for path in folder.glob("*.json")}


async def signed_in_vendor(page: Page, site: Site) -> None:
    await sign_in(page, site.token("vendor"))
    answer = await page.goto(VENDOR_PAGE)
    assert answer is not None and answer.status == 200


async def test_the_days_equal_what_the_api_answered_for_each_event(page: Page, site: Site) -> None:
    await signed_in_vendor(page, site)
    expected = expected_days(site)
    rows = page.get_by_test_id("vendor-day")
    assert await rows.count() == 31  # every day of October, quiet days too
    shown: dict[str, dict[str, int]] = {}
    for row in await rows.all():
        day = await row.get_attribute("data-day")
        assert day is not None
        shown[day] = {name: value for name, value in (await cells(row)).items() if value}
    assert set(expected) <= set(shown)
    assert shown == {day: dict(expected.get(day, Counter())) for day in shown}

    everything: Counter[str] = sum(expected.values(), Counter())
    assert everything["duplicates"] == 1 and everything["rejected-unknown_product"] == 1
    assert everything["unlicensed"] == 3  # norsk-1-7: Bærum has no licence for it
    footer = await cells(page.get_by_test_id("vendor-days-total"))
    assert {name: value for name, value in footer.items() if value} == dict(everything)
    figures = page.get_by_test_id("vendor-totals")
    for name in ("received", "accepted", "unlicensed", "duplicates"):
        figure = figures.get_by_test_id(f"vendor-total-{name}")
        assert await figure.get_attribute("data-value") == str(everything[name]), name
        assert count_of(await figure.inner_text()) == everything[name], name
    rejected = figures.get_by_test_id("vendor-total-rejected")
    assert await rejected.get_attribute("data-value") == "1"

    # The same month as a picture, named for assistive technology, drawn without a script.
    chart = page.get_by_test_id("vendor-days-chart").locator("svg[role='img']")
    assert await chart.count() == 1
    title = chart.locator("title").first
    assert "Hendelser per dag" in (await title.text_content() or "")
    assert await page.get_by_role("img", name=re.compile("Hendelser per dag")).count() == 1
    assert await page.locator("script").count() == 0
    await screenshot(page, "vendor")


async def test_the_rejected_event_is_listed_with_its_reason(page: Page, site: Site) -> None:
    await signed_in_vendor(page, site)
    rejected = [a for a in site.answers if a["status"] == "rejected"]
    assert [(a["event_id"], a["reason"]) for a in rejected] == [("wrong-1", "unknown_product")]
    rows = page.get_by_test_id("vendor-rejection")
    listed = [
        (
            await row.get_by_test_id("event-id").inner_text(),
            await row.get_by_test_id("reason").inner_text(),
        )
        for row in await rows.all()
    ]
    assert listed == [("wrong-1", "unknown_product")]
    what_to_fix = rows.first.locator("td").nth(3)  # the column "Hva som må rettes"
    assert "Produktet er ikke et av leverandørens produkter" in await what_to_fix.inner_text()
    table = page.get_by_test_id("vendor-rejections-table")
    assert await table.get_by_role("columnheader").count() == 5


async def test_the_settlements_equal_the_exported_files(
    page: Page, site: Site, tmp_path: Path
) -> None:
    files = settlement_files(site, tmp_path)
    ours = {sid: doc for sid, doc in files.items() if doc["vendor"] == VENDOR}
    assert set(ours) == {OURS}, sorted(files)
    await signed_in_vendor(page, site)
    rows = page.get_by_test_id("settlement")
    shown = [await row.get_attribute("data-settlement") for row in await rows.all()]
    assert shown == [OURS]  # only what Example Forlag is paid, never Læringsappen's
    row = rows.first
    document = ours[OURS]
    for field in ("subtotal", "vat", "total"):
        cell = row.get_by_test_id(field)
        assert kroner_of(await cell.inner_text()) == Decimal(document[field]), field
        assert await cell.get_attribute("data-value") == document[field], field
    assert await row.get_by_test_id("lines").get_attribute("data-value") == str(
        len(document["lines"])
    )
    unlicensed = row.get_by_test_id("unlicensed-events")
    assert await unlicensed.get_attribute("data-value") == str(document["unlicensed"]["events"])
    assert "Bærum kommune" in await row.get_by_role("rowheader").inner_text()


async def test_a_download_from_the_page_is_the_apis_document_and_its_ehf_is_valid(
    page: Page, site: Site
) -> None:
    await signed_in_vendor(page, site)
    row = page.locator(f'[data-testid="settlement"][data-settlement="{OURS}"]')
    headers = {"Authorization": f"Bearer {site.token('vendor')}"}
    async with httpx.AsyncClient(base_url=site.base_url, timeout=request_timeout_s) as client:
        for format_, suffix in (("json", ".json"), ("csv", ".csv"), ("ehf", ".xml")):
            async with page.expect_download() as started:
                await row.get_by_test_id(f"download-{format_}").click()
            download = await started.value
            assert download.suggested_filename.startswith(OURS), download.suggested_filename
            assert download.suggested_filename.endswith(suffix), download.suggested_filename
            saved = Path(await download.path())
            from_api = await client.get(f"/v1/settlements/{OURS}?format={format_}", headers=headers)
            assert from_api.status_code == 200, from_api.text
            assert saved.read_bytes() == from_api.content, format_
            if format_ == "json":
                assert json.loads(saved.read_bytes())["digest"].startswith("sha256:")
            if format_ == "ehf":
                report = validator().report(saved.read_bytes())
                assert report.valid, [str(failure) for failure in report.failures]


async def test_another_vendors_settlement_cannot_be_downloaded(
    page: Page, site: Site, page_problems: PageProblems
) -> None:
    page_problems.allow(r"status of 40[34]")
    await signed_in_vendor(page, site)
    for format_ in ("json", "csv", "ehf"):
        answer = await page.request.get(f"/pages/settlements/{THEIRS}?format={format_}")
        assert answer.status in (403, 404), format_
        assert site.settlements[THEIRS]["digest"] not in await answer.text()
    opened = await page.goto(f"/pages/settlements/{THEIRS}?format=json")
    assert opened is not None and opened.status in (403, 404)
    assert await page.get_by_test_id("page-error").count() == 1


async def test_a_municipality_reaches_neither_another_municipalitys_settlement_nor_this_page(
    open_page: OpenPage, site: Site, page_problems: PageProblems
) -> None:
    """Signed in as Bærum (3201): Asker's (3203) settlement and the vendor page are refused."""
    page_problems.allow(r"status of 40[34]")
    page = await open_page()
    await sign_in(page, site.token("municipality"))
    asker = [sid for sid, s in site.settlements.items() if s["municipality"] == OTHER_MUNICIPALITY]
    assert asker == [THEIRS]
    for format_ in ("json", "csv", "ehf"):
        answer = await page.goto(f"/pages/settlements/{THEIRS}?format={format_}")
        assert answer is not None and answer.status in (403, 404), format_
        assert site.settlements[THEIRS]["digest"] not in await page.content()
    vendor_page = await page.goto(VENDOR_PAGE)
    assert vendor_page is not None and vendor_page.status == 403
    assert await page.get_by_text(re.compile("ikke for din rolle")).count()
    # Bærum's own settlement with Læringsappen downloads (the refusal is not of everything).
    own = f"{PERIOD}_{MUNICIPALITY}_{OTHER_VENDOR}"
    allowed = await page.request.get(f"/pages/settlements/{own}?format=json")
    assert allowed.status == 200
    assert json.loads(await allowed.body())["municipality"] == MUNICIPALITY


async def test_the_english_switch_shows_english_labels(page: Page, site: Site) -> None:
    await signed_in_vendor(page, site)
    switch = page.get_by_test_id("lang-switch")
    assert await switch.inner_text() == "English"
    async with page.expect_navigation():
        await switch.click()
    assert await page.locator("html").get_attribute("lang") == "en"
    assert await page.get_by_role("heading", name="Events per day").count() == 1
    assert await page.get_by_role("heading", name="Rejected events to correct").count() == 1
    assert await page.get_by_role("heading", name="Hendelser per dag").count() == 0
    assert await page.get_by_role("img", name=re.compile("Events per day")).count() == 1
    what_to_fix = page.get_by_test_id("vendor-rejection").first.locator("td").nth(3)
    assert "The product is not one of this vendor's products" in await what_to_fix.inner_text()
    total = page.locator(f'[data-settlement="{OURS}"]').get_by_test_id("total")
    assert (await total.inner_text()).startswith("NOK")
    await screenshot(page, "vendor-en")
    # The choice is remembered: the next page is English without asking again.
    await page.goto(VENDOR_PAGE)
    assert await page.locator("html").get_attribute("lang") == "en"
    async with page.expect_navigation():
        await page.get_by_test_id("lang-switch").click()
    assert await page.locator("html").get_attribute("lang") == "nb"
