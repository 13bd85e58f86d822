"""The API's own documentation page works in a real browser, from the server's own assets."""

from __future__ import annotations

from playwright.async_api import Page

from tests.browser.support import screenshot


async def test_docs_page_renders_without_errors(page: Page) -> None:
    answer = await page.goto("/docs")
    assert answer is not None and answer.ok
    # Swagger UI builds the page in JavaScript: its title appears once the spec has loaded.
    title = page.locator(".information-container .title")
    await title.wait_for()
    assert "ledger" in (await title.inner_text()).lower()
    assert await page.locator(".opblock-summary-path", has_text="/v1/events").count() >= 1
    await screenshot(page, "api-docs")
