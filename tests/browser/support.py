"""Helpers for browser tests: the seeded site's parties and data, screenshots, signing in.

Fixtures live in conftest.py; what a test imports lives here.
"""

from __future__ import annotations

import os
import re
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from playwright.async_api import Page

from tests.conftest import REPO_ROOT

SCREENSHOTS_ENV = "LEDGER_SCREENSHOTS"
SCREENSHOTS_DEFAULT = REPO_ROOT / "build" / "screenshots"  # a test artefact, gitignored
SCREENSHOT_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")

# The integration catalogue's parties (tests/integration/catalogue.yaml).
MUNICIPALITY = "3201"  # Bærum: licences from both vendors, and one product used unlicensed
OTHER_MUNICIPALITY = "3203"  # Asker: only the joint licence
VENDOR = "987654325"  # Example Forlag AS
OTHER_VENDOR = "912000001"  # Læringsappen AS
AUDITOR = "revisor"
ADMIN = "drift"
PERIOD = "2026-10"  # the settled period


@dataclass(frozen=True)
class Site:
    """A running `ledger serve` on a seeded workspace with `PERIOD` settled."""

    base_url: str
    workspace: str
    tokens: dict[str, str]  # "municipality", "other_municipality", "vendor", "other_vendor",
    # "auditor", "admin"
    settlements: dict[str, dict[str, Any]]  # id → the settle answer's settlement
    answers: list[dict[str, Any]] = field(default_factory=list)  # each event's outcome, sent order
    server_log: deque[str] = field(default_factory=deque)  # the tail of the server's stderr

    def token(self, party: str) -> str:
        return self.tokens[party]


def screenshots_dir() -> Path:
    """`$LEDGER_SCREENSHOTS` (relative to the checkout) or build/screenshots."""
    chosen = os.environ.get(SCREENSHOTS_ENV, "").strip()
    folder = (REPO_ROOT / chosen) if chosen else SCREENSHOTS_DEFAULT
    folder.mkdir(parents=True, exist_ok=True)
    return folder


async def screenshot(page: Page, name: str) -> Path:
    """The whole page as `<name>.png` in the screenshots folder (the README shows these)."""
    if not SCREENSHOT_NAME.fullmatch(name):
        raise ValueError(f"screenshot name {name!r}: lower-case letters, digits, - and _")
    path = screenshots_dir() / f"{name}.png"
    await page.screenshot(path=str(path), full_page=True)
    return path


async def sign_in(page: Page, token: str) -> None:
    """Sign in through the form at `/` as a person would: the labelled token field, then submit."""
    await page.goto("/")
    await page.get_by_label(re.compile("nøkkel|token", re.IGNORECASE)).fill(token)
    async with page.expect_navigation():
        await page.get_by_role("button", name=re.compile("Logg inn|Sign in")).click()
