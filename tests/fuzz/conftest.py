"""Fuzz fixtures: the integration workspace, and the count of cases each fuzz test tried.

The counts are printed in pytest's terminal summary and written to
`bench-out/fuzz-counts.json`, so a closing note can cite how much input was tried.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT
from tests.integration.conftest import workspace  # noqa: F401  (fixture)

COUNTS_PATH = REPO_ROOT / "bench-out" / "fuzz-counts.json"
# Cases tried this session, by what was tried ("raw messages", "ingest files", ...).
tried: Counter[str] = Counter()


def count(kind: str, cases: int = 1) -> None:
    """Record `cases` fuzz cases of `kind` as tried."""
    tried[kind] += cases


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not tried:
        return
    terminalreporter.section("fuzz cases tried")
    for kind, cases in sorted(tried.items()):
        terminalreporter.write_line(f"{cases:>8,} {kind}")
    _write_counts(COUNTS_PATH)


def _write_counts(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    document = {"finished_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), **tried}
    path.write_text(json.dumps(document, indent=2, sort_keys=True) + "\n", encoding="utf-8")
