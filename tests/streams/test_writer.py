"""The exactly-once writing path (streams/writer.py) on the real PostgreSQL.

Each raw message becomes one entry with its source offset, in one transaction: a
redelivery writes nothing, a hole stops the write at the hole (`OffsetGap`), and
partitions are chains of their own.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from ledger.domain.invariants import InvariantViolation
from ledger.store.engine import create_ledger_engine
from ledger.store.migrate import migrate
from streams.writer import BatchResult, LedgerWriter, OffsetGap, batch_events_max
from tests.streams import (
    LEARNER_KEY,
    SOURCE_TOPIC,
    UNKNOWN_SCHOOL,
    catalogue_marker,
    raw_log,
    usage_event,
)

pytestmark = pytest.mark.integration


@pytest.fixture
async def engine(fresh_database_url: str) -> AsyncIterator[AsyncEngine]:
    await migrate(fresh_database_url)
    engine = create_ledger_engine(fresh_database_url)
    yield engine
    await engine.dispose()


@pytest.fixture
def writer(engine: AsyncEngine) -> LedgerWriter:
    return LedgerWriter(engine, source_topic=SOURCE_TOPIC, learner_key=LEARNER_KEY)


async def stored(engine: AsyncEngine, chain: int) -> list[tuple[int, int, str]]:
    """(seq, source offset, status) of a chain's entries, in seq order."""
    async with engine.connect() as conn:
        rows = await conn.execute(
            text(
                "SELECT seq, source_offset, status FROM ledger.entries"
                " WHERE chain = :chain ORDER BY seq"
            ),
            {"chain": chain},
        )
        return [(row.seq, row.source_offset, row.status) for row in rows]


async def test_a_batch_is_written_one_entry_per_message(
    engine: AsyncEngine, writer: LedgerWriter
) -> None:
    log = [*raw_log(0, 4), usage_event(0, 4, school=UNKNOWN_SCHOOL)]
    result = await writer.write(0, log)
    assert (result.partition, result.written, result.skipped, result.next_offset) == (0, 5, 0, 5)
    assert (result.accepted, result.duplicates) == (3, 0)
    assert [(m.offset, d.reason_code) for m, d in result.rejected] == [(4, "unknown_school")]
    assert [offset for _, offset, _ in await stored(engine, 0)] == [0, 1, 2, 3, 4]
    assert [seq for seq, _, _ in await stored(engine, 0)] == [1, 2, 3, 4, 5]
    assert await writer.next_offset(0) == 5
    async with engine.connect() as conn:
        versions = await conn.execute(text("SELECT version FROM ledger.catalogue_versions"))
        assert [row.version for row in versions] == [1]


async def test_a_redelivered_batch_is_skipped_and_adds_nothing(
    engine: AsyncEngine, writer: LedgerWriter
) -> None:
    log = raw_log(0, 4)
    await writer.write(0, log)
    before = await stored(engine, 0)
    again = await writer.write(0, log)
    assert again == BatchResult(0, 0, 4, (), 4)
    # A fresh writer (a restarted worker) sees the same ledger position.
    restarted = LedgerWriter(engine, source_topic=SOURCE_TOPIC, learner_key=LEARNER_KEY)
    assert await restarted.write(0, log[2:]) == BatchResult(0, 0, 2, (), 4)
    assert await stored(engine, 0) == before


async def test_a_rebalance_batch_writes_only_what_continues_the_chain(
    engine: AsyncEngine, writer: LedgerWriter
) -> None:
    log = raw_log(0, 7)
    await writer.write(0, log[:3])
    # Fetched 4..6 before a seek back to 2, then 2..6 again after it.
    result = await writer.write(0, [*log[4:], *log[1:]])
    assert (result.written, result.skipped, result.next_offset) == (4, 2, 7)
    assert [offset for _, offset, _ in await stored(engine, 0)] == list(range(7))


async def test_a_batch_with_a_hole_is_written_up_to_the_hole(
    engine: AsyncEngine, writer: LedgerWriter
) -> None:
    log = raw_log(0, 7)
    with pytest.raises(OffsetGap) as gap:
        await writer.write(0, [*log[:3], *log[5:]])
    assert (gap.value.partition, gap.value.expected_offset, gap.value.found_offset) == (0, 3, 5)
    written = gap.value.written
    assert written is not None
    assert (written.written, written.skipped, written.next_offset) == (3, 0, 3)
    assert [offset for _, offset, _ in await stored(engine, 0)] == [0, 1, 2]
    # The consumer seeks back to 3 and fetches the rest.
    assert (await writer.write(0, log[3:])).next_offset == 7
    assert [offset for _, offset, _ in await stored(engine, 0)] == list(range(7))


async def test_a_batch_beginning_beyond_the_head_writes_nothing(
    engine: AsyncEngine, writer: LedgerWriter
) -> None:
    log = raw_log(0, 6)
    await writer.write(0, log[:2])
    with pytest.raises(OffsetGap) as gap:
        await writer.write(0, log[4:])
    assert (gap.value.expected_offset, gap.value.found_offset) == (2, 4)
    assert gap.value.written is None
    assert [offset for _, offset, _ in await stored(engine, 0)] == [0, 1]


async def test_an_event_seen_in_an_earlier_batch_is_a_duplicate(
    engine: AsyncEngine, writer: LedgerWriter
) -> None:
    log = raw_log(0, 3)
    await writer.write(0, log)
    # Offset 4 has the same learner as offset 1: the same content, sent again.
    again = usage_event(0, 4, event_id="e-0-000001")
    result = await writer.write(0, [usage_event(0, 3), again])
    assert (result.written, result.accepted, result.duplicates) == (2, 1, 1)
    assert [status for _, _, status in await stored(engine, 0)][-1] == "duplicate"


async def test_partitions_are_independent_chains(engine: AsyncEngine, writer: LedgerWriter) -> None:
    first, second = raw_log(0, 5), raw_log(1, 3)
    assert (await writer.write(0, first)).next_offset == 5
    assert (await writer.write(1, second)).next_offset == 3
    # A hole in one partition leaves the other where it was.
    with pytest.raises(OffsetGap):
        await writer.write(1, [usage_event(1, 9)])
    assert (await writer.write(0, [usage_event(0, 5)])).next_offset == 6
    assert await writer.next_offset(0) == 6
    assert await writer.next_offset(1) == 3
    assert await writer.next_offset(2) == 0
    assert [seq for seq, _, _ in await stored(engine, 1)] == [1, 2, 3]
    assert [offset for _, offset, _ in await stored(engine, 0)] == list(range(6))


async def test_a_batch_must_hold_one_partition_within_its_bound(writer: LedgerWriter) -> None:
    with pytest.raises(InvariantViolation):
        await writer.write(0, [catalogue_marker(0, 0), usage_event(1, 1)])
    with pytest.raises(InvariantViolation):
        await writer.write(0, [usage_event(0, 0)] * (batch_events_max + 1))
