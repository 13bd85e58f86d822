"""The auditor page in a real browser: verify from the page, chain heads, digests, traces.

Each figure is checked against a separate account: the API's chain heads and
settlement documents (auditor bearer), `ledger trace` in the workspace, and the
seeded events themselves for what a line's quantity means.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from playwright.async_api import Page

from tests.browser.conftest import seeded_events
from tests.browser.support import MUNICIPALITY, PERIOD, VENDOR, Site, screenshot, sign_in
from tests.integration.conftest import ledger_cli

request_timeout_s = 30
verify_clock_slack = timedelta(seconds=5)  # the server's clock and ours: one machine


async def api_get(site: Site, path: str) -> Any:
    """A GET on the API as the auditor, with the bearer token a script would send."""
    headers = {"Authorization": f"Bearer {site.token('auditor')}"}
    async with httpx.AsyncClient(base_url=site.base_url, timeout=request_timeout_s) as client:
        answer = await client.get(path, headers=headers)
    assert answer.status_code == 200, answer.text
    return answer.json()


async def signed_in_auditor(page: Page, site: Site) -> None:
    await sign_in(page, site.token("auditor"))
    assert page.url == f"{site.base_url}/auditor"


def traced_in_workspace(site: Site, settlement: str, line: int) -> dict[str, Any]:
    """`ledger trace <id> --line N --json`: the line and its events, as a shell gets them."""
    result = ledger_cli(
        "trace", settlement, "--line", str(line), "--json", "--workspace", site.workspace
    )
    (traced,) = [json.loads(row) for row in result.stdout.splitlines() if row.strip()]
    return dict(traced)


def meaning_of_quantity(metric: str, counted_ids: list[str]) -> int:
    """What a line's quantity is, from the seeded events behind it (CONTRACT section 5, rule 4)."""
    ours, theirs = seeded_events()
    sent = {event["event_id"]: event for event in ours + theirs}
    if metric == "active_learners":
        return len({sent[event_id]["learner"] for event_id in counted_ids})
    assert metric == "units", metric
    return sum(int(sent[event_id]["quantity"]) for event_id in counted_ids)


async def test_verify_from_the_page_reports_ok_with_its_time(page: Page, site: Site) -> None:
    await signed_in_auditor(page, site)
    before = datetime.now(UTC) - verify_clock_slack
    async with page.expect_navigation():
        await page.get_by_role("button", name="Kjør kontroll nå").click()
    assert page.url == f"{site.base_url}/auditor"
    status = page.get_by_test_id("verify-status")
    assert await status.get_attribute("data-value") == "ok"
    assert (await status.inner_text()).strip() == "Alt stemmer"
    finished = page.get_by_test_id("verify-finished-at").locator("time")
    stamp = await finished.get_attribute("datetime")
    assert stamp is not None
    finished_at = datetime.fromisoformat(stamp)
    assert before <= finished_at <= datetime.now(UTC) + verify_clock_slack, stamp
    assert re.search(r"\d{2}:\d{2}", await finished.inner_text())  # a time people read
    checked = page.get_by_test_id("verify-settlements-checked")
    assert await checked.get_attribute("data-value") == str(len(site.settlements))
    entries = await page.get_by_test_id("verify-entries-checked").get_attribute("data-value")
    assert entries is not None and int(entries) >= len(site.answers)
    await screenshot(page, "auditor")


async def test_the_chain_heads_are_the_apis(page: Page, site: Site) -> None:
    await signed_in_auditor(page, site)
    heads = (await api_get(site, "/v1/ledger/chains"))["chains"]
    assert heads, "a settled ledger has chains"
    rows = page.get_by_test_id("chain-head")
    shown: list[dict[str, Any]] = []
    for row in await rows.all():
        chain = await row.get_attribute("data-chain")
        seq = await row.get_by_test_id("seq").get_attribute("data-value")
        hash_ = await row.get_by_test_id("hash").inner_text()
        assert chain is not None and seq is not None
        shown.append({"chain": int(chain), "seq": int(seq), "hash": hash_.strip()})
    assert sorted(shown, key=lambda h: h["chain"]) == sorted(heads, key=lambda h: h["chain"])


async def test_the_settlements_carry_their_documents_digests(page: Page, site: Site) -> None:
    await signed_in_auditor(page, site)
    rows = page.get_by_test_id("settlement")  # the latest settled month by default
    shown: dict[str, tuple[str, str]] = {}
    for row in await rows.all():
        settlement = await row.get_attribute("data-settlement")
        assert settlement is not None
        digest = (await row.get_by_test_id("digest").inner_text()).strip()
        total = await row.get_by_test_id("total").get_attribute("data-value")
        assert total is not None
        shown[settlement] = (digest, total)
    documents = {sid: await api_get(site, f"/v1/settlements/{sid}") for sid in site.settlements}
    assert shown == {sid: (d["digest"], d["total"]) for sid, d in documents.items()}
    for document in documents.values():
        assert re.fullmatch(r"sha256:[0-9a-f]{64}", document["digest"])


async def test_tracing_each_line_gives_the_events_its_quantity_counts(
    page: Page, site: Site
) -> None:
    await signed_in_auditor(page, site)
    traced_lines = 0
    for settlement in sorted(site.settlements):
        document = await api_get(site, f"/v1/settlements/{settlement}")
        row = page.locator(f'[data-testid="settlement"][data-settlement="{settlement}"]')
        async with page.expect_navigation():
            await row.get_by_test_id("trace-link").click()
        assert await page.get_by_test_id("trace-settlement").inner_text() == settlement
        for number, line in enumerate(document["lines"], start=1):
            if number > 1:
                lines_table = page.get_by_test_id("trace-lines-table")
                async with page.expect_navigation():
                    await lines_table.get_by_role("link", name=str(number), exact=True).click()
            current = page.get_by_test_id("trace-lines-table").locator("tr[aria-current='true']")
            assert await current.get_by_role("rowheader").inner_text() == str(number)
            events = page.get_by_test_id("traced-event")
            ids: list[str] = []
            counted: list[str] = []
            for event in await events.all():
                event_id = (await event.get_by_role("rowheader").inner_text()).strip()
                ids.append(event_id)
                if (await event.locator("td").nth(3).inner_text()).strip() == "Ja":  # Telt
                    counted.append(event_id)
            total = await page.get_by_test_id("trace-events-total").get_attribute("data-value")
            assert total == str(len(ids))  # one page holds this seed's lines

            from_shell = traced_in_workspace(site, settlement, number)
            assert ids == [event["event_id"] for event in from_shell["events"]]
            assert counted == [e["event_id"] for e in from_shell["events"] if e["counted"]]
            assert from_shell["quantity"] == line["quantity"] > 0
            assert meaning_of_quantity(line["metric"], counted) == line["quantity"], line
            traced_lines += 1
            if (settlement, number) == (f"{PERIOD}_{MUNICIPALITY}_{VENDOR}", 1):
                await screenshot(page, "auditor-trace")
        await page.goto("/auditor")
    assert traced_lines >= 3  # both metrics: active learners and units of access
