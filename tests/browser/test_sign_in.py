"""Signing in at `/` with a token, as each kind of user; a token in a header works too.

The form sets an HttpOnly, SameSite cookie and sends each party to its own page; a party
never sees another role's page.
"""

from __future__ import annotations

import re

import pytest
from playwright.async_api import Page

from tests.browser.conftest import OpenPage, PageProblems
from tests.browser.support import Site, screenshot, sign_in

LANDING = {"municipality": "/finance", "vendor": "/vendor", "auditor": "/auditor"}


async def test_the_form_has_a_labelled_token_field(page: Page) -> None:
    answer = await page.goto("/")
    assert answer is not None and answer.ok
    field = page.get_by_label(re.compile("nøkkel|token", re.IGNORECASE))
    await field.wait_for()
    assert await page.get_by_role("button", name=re.compile("Logg inn|Sign in")).is_visible()
    await screenshot(page, "sign-in")


@pytest.mark.parametrize("party", sorted(LANDING))
async def test_signing_in_sets_a_safe_cookie_and_opens_the_party_page(
    page: Page, site: Site, party: str
) -> None:
    await sign_in(page, site.token(party))
    assert page.url == f"{site.base_url}{LANDING[party]}"
    cookies = await page.context.cookies()
    assert cookies, "signing in set no cookie"
    for cookie in cookies:
        assert cookie["httpOnly"], cookie["name"]
        assert cookie.get("sameSite") in ("Lax", "Strict"), cookie


async def test_a_wrong_token_is_refused_in_words(
    page: Page, site: Site, page_problems: PageProblems
) -> None:
    page_problems.allow(r"status of 40[013]")
    await sign_in(page, "lk_0000_not-a-token")
    assert await page.context.cookies() == []
    assert await page.get_by_text(re.compile("ikke gyldig|not valid", re.IGNORECASE)).count()


@pytest.mark.parametrize("party", sorted(LANDING))
async def test_a_bearer_token_opens_the_party_page(
    open_page: OpenPage, site: Site, party: str
) -> None:
    page = await open_page(token=site.token(party))
    answer = await page.goto(LANDING[party])
    assert answer is not None and answer.status == 200


async def test_a_vendor_cannot_open_the_finance_page(
    open_page: OpenPage, site: Site, page_problems: PageProblems
) -> None:
    page_problems.allow(r"status of 403")
    page = await open_page(token=site.token("vendor"))
    answer = await page.goto(LANDING["municipality"])
    assert answer is not None and answer.status == 403
    assert await page.get_by_text(re.compile("ikke for din rolle|not for your role")).count()
