"""Replay's comparison walks two ledgers side by side and names every difference."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ledger.app.replay import ReplayReport, compare_ledgers
from ledger.domain.chain import EntryDraft
from ledger.store.append import append_entries
from ledger.store.databases import create_scratch_database, drop_database
from ledger.store.engine import create_ledger_engine
from ledger.store.migrate import migrate

pytestmark = pytest.mark.integration


def _drafts(count: int, changed_at: int | None = None) -> list[EntryDraft]:
    received = datetime(2026, 10, 1, 8, tzinfo=UTC)
    return [
        EntryDraft(
            kind="event",
            status="rejected",
            source_topic="t",
            source_offset=offset,
            received_at=received,
            event_id=f"e-{offset}",
            reason_code="malformed",
            reason_detail="changed" if offset == changed_at else "bad",
        )
        for offset in range(count)
    ]


async def _ledger(url: str, chains: dict[int, list[EntryDraft]]) -> None:
    await migrate(url)
    engine = create_ledger_engine(url)
    try:
        for chain, drafts in chains.items():
            async with engine.begin() as conn:
                await append_entries(conn, chain, drafts)
    finally:
        await engine.dispose()


async def test_identical_ledgers_compare_equal_and_differences_are_named(services):
    source, same, other = [await create_scratch_database(services.database_url) for _ in range(3)]
    try:
        await _ledger(source, {0: _drafts(50), 1: _drafts(30)})
        await _ledger(same, {0: _drafts(50), 1: _drafts(30)})
        # entry 0/45 differs (and so does every later hash of chain 0); chain 1 is shorter
        await _ledger(other, {0: _drafts(50, changed_at=44), 1: _drafts(28)})

        equal = ReplayReport()
        await compare_ledgers(source, same, equal)
        assert equal.identical and equal.entries_compared == 80

        differs = ReplayReport()
        await compare_ledgers(source, other, differs)
        assert not differs.identical
        assert differs.differences[0].startswith("entry chain 0 seq 45: hash")
        assert "entry chain 1 seq 29: missing from the replay" in differs.differences
        assert differs.difference_count == (50 - 44) + 2 == len(differs.differences)
    finally:
        for url in (source, same, other):
            await drop_database(services.database_url, url)
