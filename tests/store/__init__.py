"""Tests of the ledger store: ledger/domain/chain.py and ledger/store/.

Shared helpers live here (not in a conftest) so each test module imports what it uses.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from ledger.domain.chain import EntryDraft
from ledger.store.engine import asyncpg_dsn
from tests.superuser import superuser_url

SOURCE_TOPIC = "ledger.test.usage-events"
BASE_TIME = datetime(2026, 10, 5, 8, 15, tzinfo=UTC)


def event_draft(offset: int, **overrides: Any) -> EntryDraft:
    """An accepted usage event at `offset` (its event id follows the offset)."""
    fields: dict[str, Any] = {
        "kind": "event",
        "status": "accepted",
        "source_topic": SOURCE_TOPIC,
        "source_offset": offset,
        "received_at": BASE_TIME + timedelta(seconds=offset),
        "vendor": "987654325",
        "event_id": f"e-{offset:06d}",
        "product": "matte-1-7",
        "school": "974626993",
        "municipality": "3201",
        "learner_hash": hashlib.sha256(f"learner-{offset % 7}".encode()).digest(),
        "role": "pupil",
        "action": "open",
        "item": "kap-3",
        "unit": "access",
        "quantity": 1,
        "occurred_at": BASE_TIME + timedelta(seconds=offset) - timedelta(minutes=1),
        "period": "2026-10",
        "licence_id": "L-2026-001",
        "catalogue_version": 1,
        "content_digest": hashlib.sha256(f"content-{offset}".encode()).digest(),
    }
    fields.update(overrides)
    return EntryDraft(**fields)


def event_drafts(first_offset: int, count: int, chain: int = 0) -> list[EntryDraft]:
    """`count` accepted events from `first_offset`; event ids unique per chain."""
    return [
        event_draft(offset, event_id=f"e-{chain}-{offset:06d}")
        for offset in range(first_offset, first_offset + count)
    ]


@asynccontextmanager
async def superuser(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    """A raw connection as the cluster's superuser (the URL's user on an external server)."""
    connection: asyncpg.Connection = await asyncpg.connect(asyncpg_dsn(superuser_url(database_url)))
    try:
        yield connection
    finally:
        await connection.close()
