"""Appending to chains: gapless seqs, one writer per chain at a time, bounded batches."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from ledger.domain.chain import GENESIS_HASH, canonical_bytes, entry_hash
from ledger.domain.invariants import InvariantViolation
from ledger.store.append import (
    ChainHead,
    append_batch_entries_max,
    append_entries,
    chain_head,
    lock_chain,
    read_chain,
)
from ledger.store.engine import create_ledger_engine
from ledger.store.migrate import migrate
from ledger.store.verify import verify_ledger
from tests.store import event_draft, event_drafts, superuser

pytestmark = pytest.mark.integration


@pytest.fixture
async def database_url(fresh_database_url: str) -> str:
    await migrate(fresh_database_url)
    return fresh_database_url


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_ledger_engine(database_url)
    yield engine
    await engine.dispose()


async def stored_seqs(database_url: str, chain: int) -> list[int]:
    async with superuser(database_url) as connection:
        rows = await connection.fetch(
            "SELECT seq FROM ledger.entries WHERE chain = $1 ORDER BY seq", chain
        )
    return [row["seq"] for row in rows]


async def test_seqs_continue_without_gaps_across_batches(
    engine: AsyncEngine, database_url: str
) -> None:
    written = []
    for first_offset, count in ((0, 3), (3, 1), (4, 5)):
        async with engine.begin() as connection:
            written += await append_entries(connection, 1, event_drafts(first_offset, count))
    assert [entry.seq for entry in written] == list(range(1, 10))
    assert await stored_seqs(database_url, 1) == list(range(1, 10))
    assert written[0].prev_hash == GENESIS_HASH
    for entry in written:
        assert entry.hash == entry_hash(entry.prev_hash, canonical_bytes(1, entry.seq, entry.draft))
    async with engine.connect() as connection:
        assert await chain_head(connection, 1) == ChainHead(9, written[-1].hash, 8, 1)
        assert await chain_head(connection, 2) is None
        read_back = [entry async for entry in read_chain(connection, 1)]
        assert read_back == written
        assert [entry async for entry in read_chain(connection, 1, from_seq=8)] == written[7:]


async def test_a_rolled_back_append_leaves_no_trace(engine: AsyncEngine, database_url: str) -> None:
    async with engine.connect() as connection:
        async with connection.begin() as transaction:
            await append_entries(connection, 0, event_drafts(0, 2))
            await transaction.rollback()
        async with connection.begin():
            written = await append_entries(connection, 0, event_drafts(0, 2))
    assert [entry.seq for entry in written] == [1, 2]
    assert await stored_seqs(database_url, 0) == [1, 2]


async def test_concurrent_appenders_of_one_chain_take_turns(
    engine: AsyncEngine, database_url: str
) -> None:
    first_has_appended = asyncio.Event()

    async def first() -> None:
        async with engine.begin() as connection:
            await append_entries(connection, 0, event_drafts(0, 5))
            first_has_appended.set()
            await asyncio.sleep(0.3)  # still holding the chain's lock, not yet committed

    async def second() -> None:
        await first_has_appended.wait()
        async with engine.begin() as connection:
            # Reads the head only after the first commits: without the lock it would see
            # an empty chain, take seq 1 again and fail on the primary key.
            await append_entries(connection, 0, event_drafts(5, 5))

    await asyncio.gather(first(), second())
    assert await stored_seqs(database_url, 0) == list(range(1, 11))
    report = await verify_ledger(database_url)
    assert report.ok, report.first_damage
    assert report.entries_checked == 10


async def test_many_concurrent_writers_produce_one_valid_chain(
    engine: AsyncEngine, database_url: str
) -> None:
    async def append_next(writer: int) -> None:
        # The stream writer's pattern: lock, read where the chain ends, append after it.
        async with engine.begin() as connection:
            await lock_chain(connection, 3)
            head = await chain_head(connection, 3)
            offset = 0 if head is None else head.last_source_offset + 1
            drafts = [
                event_draft(offset, event_id=f"w{writer}-a"),
                event_draft(offset + 1, event_id=f"w{writer}-b"),
            ]
            await append_entries(connection, 3, drafts)

    await asyncio.gather(*(append_next(writer) for writer in range(8)))
    assert await stored_seqs(database_url, 3) == list(range(1, 17))
    async with engine.connect() as connection:
        entries = [entry async for entry in read_chain(connection, 3)]
    assert [entry.draft.source_offset for entry in entries] == list(range(16))
    report = await verify_ledger(database_url)
    assert report.ok, report.first_damage


async def test_other_chains_do_not_wait_for_a_held_chain(engine: AsyncEngine) -> None:
    holding = asyncio.Event()
    release = asyncio.Event()

    async def hold_chain_0() -> None:
        async with engine.begin() as connection:
            await append_entries(connection, 0, event_drafts(0, 1))
            holding.set()
            await release.wait()

    holder = asyncio.create_task(hold_chain_0())
    await holding.wait()
    async with engine.begin() as connection:
        written = await asyncio.wait_for(
            append_entries(connection, 1, event_drafts(0, 1, chain=1)), timeout=5
        )
    assert [entry.seq for entry in written] == [1]
    release.set()
    await holder


async def test_a_second_accepted_copy_of_an_event_is_an_integrity_error(
    engine: AsyncEngine,
) -> None:
    async with engine.begin() as connection:
        await append_entries(connection, 0, event_drafts(0, 2))
    with pytest.raises(IntegrityError):
        async with engine.begin() as connection:
            # Accepted event e-0-000000 again (on chain 1): the unique (vendor, event_id)
            # index of accepted events refuses it, through COPY as through INSERT.
            await append_entries(connection, 1, [event_draft(5, event_id="e-0-000000")])


async def test_offsets_must_increase(engine: AsyncEngine) -> None:
    async with engine.begin() as connection:
        await append_entries(connection, 0, event_drafts(10, 2))
    with pytest.raises(InvariantViolation, match="source offset 11 does not follow 11"):
        async with engine.begin() as connection:
            await append_entries(connection, 0, event_drafts(11, 1))
    with pytest.raises(InvariantViolation, match="does not follow"):
        async with engine.begin() as connection:
            await append_entries(connection, 0, [event_draft(20), event_draft(19)])


async def test_batches_are_bounded_and_need_a_transaction(engine: AsyncEngine) -> None:
    async with engine.connect() as connection:
        with pytest.raises(InvariantViolation, match="open transaction"):
            await append_entries(connection, 0, event_drafts(0, 1))
        async with connection.begin():
            with pytest.raises(InvariantViolation, match="exceeds"):
                await append_entries(connection, 0, event_drafts(0, append_batch_entries_max + 1))
            assert await append_entries(connection, 0, []) == []
