"""Shared fixtures. Integration fixtures bring the real services up once per session."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from hypothesis import settings

if TYPE_CHECKING:
    from infra.services import Endpoints

REPO_ROOT = Path(__file__).resolve().parents[1]

# Property tests check rules, not speed (speed is `make bench`'s job): no per-example deadline,
# which a busy 2-core CI machine could miss. Built on the default, so CI=true keeps Hypothesis's
# own "ci" profile (derandomized, so a CI run is reproducible).
settings.register_profile("ledger", parent=settings.default, deadline=None)
settings.load_profile("ledger")


@pytest.fixture(scope="session")
def ledger_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The state folder the services run from: the project's own `.ledger` unless set."""
    home = os.environ.get("LEDGER_HOME")
    path = Path(home) if home else REPO_ROOT / ".ledger"
    path.mkdir(parents=True, exist_ok=True)
    os.environ["LEDGER_HOME"] = str(path)
    return path


@pytest.fixture(scope="session")
def services(ledger_home: Path) -> Iterator[Endpoints]:
    """Real Kafka + PostgreSQL, started once (or reused when already running).

    They are left running after the session: the next run (and `ledger` commands) reuse them.
    `make down` / `ledger infra down` stops them.
    """
    from infra.services import ensure_services

    yield ensure_services(ledger_home)


@pytest.fixture
def workspace_name() -> str:
    """A fresh, unique workspace name: tests never share ledger data."""
    return f"t_{uuid.uuid4().hex[:12]}"


@pytest.fixture
async def fresh_database_url(services: Endpoints) -> AsyncIterator[str]:
    """An empty database of its own on the real server (SQLAlchemy asyncpg URL)."""
    from ledger.store.databases import create_scratch_database, drop_database

    url = await create_scratch_database(services.database_url)
    yield url
    await drop_database(services.database_url, url)
