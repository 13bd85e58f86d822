"""Browser fixtures: Debian's Chromium driven by Playwright against a real `ledger serve`.

Playwright's async API, on pytest-asyncio's session loop (its sync API refuses to run where
an event loop exists). Tests are `async def` and use:

- `site`: one seeded `ledger serve` for the whole session (`support.Site`: base URL, a token
  per party, the settled period's settlements);
- `page`: a fresh browser context (no cookies) on `site.base_url`; every console error or
  uncaught page error fails the test;
- `open_page(token=...)`: more pages, optionally sending `Authorization: Bearer <token>`;
- `support.screenshot(page, name)`, `support.sign_in(page, token)`.

Chromium is never skipped: when it is missing the session fails with the reason
(`make test` installs it first with `ledger infra browser`).
"""

from __future__ import annotations

import asyncio
import re
import subprocess
import threading
import uuid
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from playwright.async_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Error,
    Page,
    async_playwright,
)

from infra.chromium import chromium_flags, ensure_chromium
from infra.common import InfraError
from infra.services import Endpoints
from ledger.app.tokens import create_token
from ledger.app.workspace import Workspace, drop_workspace, open_workspace, stream_target
from ledger.domain.tokens import Scope
from streams.runner import run_worker
from tests.browser.support import (
    ADMIN,
    AUDITOR,
    MUNICIPALITY,
    OTHER_MUNICIPALITY,
    OTHER_VENDOR,
    PERIOD,
    VENDOR,
    Site,
)
from tests.http.test_serve import start_server
from tests.integration.conftest import load_catalogue

browser_launch_timeout_ms = 30_000
action_timeout_ms = 15_000  # one click, fill or navigation on a 2-core machine
request_timeout_s = 60  # ?wait=30 plus the worker's start
worker_stop_timeout_s = 30
viewport = {"width": 1280, "height": 900}
server_log_lines_max = 200  # the tail kept of the server's stderr (`site.server_log`)
server_log_tail_shown = 20  # of them, beside a page's console errors


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test in this folder is a browser test (`-m browser` selects them, `-m 'not
    browser'` leaves them out) and needs the real services."""
    for item in items:
        if "tests/browser/" in str(item.path).replace("\\", "/"):
            item.add_marker(pytest.mark.browser)
            item.add_marker(pytest.mark.integration)


# ---------------------------------------------------------------- browser


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    try:
        executable = ensure_chromium()
    except InfraError as error:
        pytest.fail(f"no Chromium for the browser tests: {error}", pytrace=False)
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=str(executable),
            args=list(chromium_flags),
            headless=True,
            timeout=browser_launch_timeout_ms,
        )
        yield launched
        await launched.close()


@dataclass
class PageProblems:
    """Console errors and uncaught exceptions seen on a test's pages, in order.

    A test that opens a refusal on purpose (a 403 page) says so with `allow`: Chromium logs
    every 4xx/5xx answer as a console error, including the page's own.
    """

    lines: list[str] = field(default_factory=list)
    allowed: list[re.Pattern[str]] = field(default_factory=list)

    def allow(self, pattern: str) -> None:
        """Console errors matching `pattern` (re.search) do not fail the test."""
        self.allowed.append(re.compile(pattern))

    def watch(self, page: Page) -> None:
        def on_console(message: ConsoleMessage) -> None:
            if message.type == "error" and not any(
                pattern.search(message.text) for pattern in self.allowed
            ):
                self.lines.append(f"console error on {page.url}: {message.text}")

        def on_page_error(error: Error) -> None:
            self.lines.append(f"page error on {page.url}: {error.message}")

        page.on("console", on_console)
        page.on("pageerror", on_page_error)


OpenPage = Callable[..., Awaitable[Page]]


@pytest.fixture
def page_problems() -> PageProblems:
    """This test's console errors and page errors; `page_problems.allow(pattern)` to expect one."""
    return PageProblems()


@pytest.fixture
async def open_page(
    browser: Browser, site: Site, page_problems: PageProblems
) -> AsyncIterator[OpenPage]:
    """`await open_page(token=None, locale="nb-NO")`: a page in a context of its own.

    With a token every request carries `Authorization: Bearer`, as a script would send it;
    without, the page is anonymous until it signs in (cookie). The test fails afterwards
    when any page logged a console error or threw.
    """
    problems = page_problems
    contexts: list[BrowserContext] = []

    async def opened(token: str | None = None, locale: str = "nb-NO") -> Page:
        context = await browser.new_context(
            base_url=site.base_url,
            locale=locale,
            timezone_id="Europe/Oslo",
            viewport=viewport,  # type: ignore[arg-type]
            extra_http_headers={"Authorization": f"Bearer {token}"} if token else None,
            accept_downloads=True,
        )
        context.set_default_timeout(action_timeout_ms)
        contexts.append(context)
        page = await context.new_page()
        problems.watch(page)
        return page

    yield opened
    for context in contexts:
        await context.close()
    if problems.lines:
        server_tail = list(site.server_log)[-server_log_tail_shown:]
        pytest.fail(
            "the pages reported errors:\n"
            + "\n".join(problems.lines)
            + "\nthe server's last lines:\n"
            + "\n".join(server_tail),
            pytrace=False,
        )


@pytest.fixture
async def page(open_page: OpenPage) -> Page:
    """An anonymous page (no cookies, no token) on the site."""
    return await open_page()


# ---------------------------------------------------------------- site


def seeded_events() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """October 2026 use by both vendors: (VENDOR's events, OTHER_VENDOR's events).

    Bærum pupils on matte-1-7 at two schools, one product Bærum has no licence for
    (norsk-1-7: unlicensed use), a duplicate, a product not the vendor's (rejected), and the
    joint English licence used in Bærum and Asker.
    """

    def event(event_id: str, vendor: str, product: str, school: str, learner: str, day: int):
        return {
            "event_id": event_id,
            "vendor": vendor,
            "product": product,
            "school": school,
            "learner": learner,
            "role": "pupil",
            "action": "open",
            "item": "kap-1",
            "quantity": 1,
            "unit": "access",
            "occurred_at": f"2026-10-{day:02d}T08:{day:02d}:00Z",
        }

    ours = [
        event(f"m-{n}", VENDOR, "matte-1-7", "974626993", f"bekkestua-{n % 7}", 5 + n % 10)
        for n in range(12)
    ]
    ours += [
        event(f"m-e{n}", VENDOR, "matte-1-7", "974000008", f"eikeli-{n}", 6 + n) for n in range(5)
    ]
    ours += [event(f"n-{n}", VENDOR, "norsk-1-7", "974626993", f"norsk-{n}", 7) for n in range(3)]
    ours += [ours[0]]  # a producer's retry: a duplicate
    ours += [event("wrong-1", VENDOR, "eng-5-10", "974626993", "x", 8)]  # not our product
    theirs = [
        event(f"e-{school}-{n}", OTHER_VENDOR, "eng-5-10", school, f"eng-{school}-{n % 4}", 12 + n)
        for n in range(8)
        for school in ("974626993", "974000202")
    ]
    return ours, theirs


async def issue_tokens(ws: Workspace) -> dict[str, str]:
    parties: dict[str, tuple[Scope, str]] = {
        "municipality": ("municipality", MUNICIPALITY),
        "other_municipality": ("municipality", OTHER_MUNICIPALITY),
        "vendor": ("vendor", VENDOR),
        "other_vendor": ("vendor", OTHER_VENDOR),
        "auditor": ("auditor", AUDITOR),
        "admin": ("admin", ADMIN),
    }
    return {
        party: (await create_token(ws, scope, subject)).token
        for party, (scope, subject) in parties.items()
    }


async def send_and_settle(
    base_url: str, tokens: dict[str, str]
) -> tuple[list[Any], dict[str, Any]]:
    """Events over POST /v1/events (waiting for the worker's outcome), then settle PERIOD."""
    ours, theirs = seeded_events()
    answers: list[Any] = []
    async with httpx.AsyncClient(base_url=base_url, timeout=request_timeout_s) as client:
        for party, batch in (("vendor", ours), ("other_vendor", theirs)):
            sent = await client.post(
                "/v1/events?wait=30",
                json=batch,
                headers={"Authorization": f"Bearer {tokens[party]}"},
            )
            assert sent.status_code == 200, sent.text
            answers += sent.json()["events"]
        pending = [answer for answer in answers if answer["status"] == "pending"]
        assert not pending, f"the worker left events pending: {pending}"
        settled = await client.post(
            f"/v1/periods/{PERIOD}/settle",
            headers={"Authorization": f"Bearer {tokens['admin']}"},
        )
        assert settled.status_code == 200, settled.text
    settlements = {s["id"]: s for s in settled.json()["settlements"]}
    return answers, settlements


def drain(process: subprocess.Popen[str]) -> deque[str]:
    """Read the server's stderr as it comes, keeping the tail: a full pipe would stall it."""
    lines: deque[str] = deque(maxlen=server_log_lines_max)
    stream = process.stderr
    assert stream is not None

    def read() -> None:
        for line in stream:
            lines.append(line.rstrip("\n"))

    threading.Thread(target=read, name="ledger-serve-stderr", daemon=True).start()
    return lines


@pytest.fixture(scope="session")
async def site(services: Endpoints) -> AsyncIterator[Site]:
    """A real `ledger serve` on a fresh workspace: the integration catalogue, events sent over
    HTTP and processed by a worker, October 2026 settled. Shared by every browser test."""
    name = f"t_browser_{uuid.uuid4().hex[:8]}"
    ws = await open_workspace(name)
    process: subprocess.Popen[str] | None = None
    try:
        await load_catalogue(ws)
        tokens = await issue_tokens(ws)
        base_url, process = start_server(name)
        server_log = drain(process)
        stop = asyncio.Event()
        worker = asyncio.ensure_future(run_worker(stream_target(ws), stop))
        try:
            answers, settlements = await send_and_settle(base_url, tokens)
        finally:
            stop.set()
            await asyncio.wait_for(worker, worker_stop_timeout_s)
        yield Site(base_url, name, tokens, settlements, answers, server_log)
    finally:
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        await drop_workspace(services, name)
        ws.learner_key_path.unlink(missing_ok=True)
