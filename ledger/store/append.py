"""Append entries to a chain of `ledger.entries`, and read chains back.

Writers call `append_entries` inside their own transaction, together with whatever
else must commit atomically with the entries (the consumed offsets: exactly once in
effect). The store never commits.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg
from sqlalchemy import Row, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from ledger.domain.chain import (
    DRAFT_FIELDS,
    GENESIS_HASH,
    Entry,
    EntryDraft,
    chain_entries,
)
from ledger.domain.invariants import invariant
from ledger.store.locks import chain_lock_class
from ledger.store.schema import entries

append_batch_entries_max = 10_000  # one COPY; bounds the transaction's size and lock time
read_chain_fetch_entries = 2_000  # rows per round trip of read_chain's server-side cursor

ENTRY_COLUMNS: tuple[str, ...] = ("chain", "seq", *DRAFT_FIELDS, "prev_hash", "hash")


@dataclass(frozen=True, slots=True)
class ChainHead:
    """The last entry of a chain: where the next append continues."""

    seq: int
    hash: bytes
    last_source_offset: int  # the raw-topic offset of the last entry
    catalogue_version: int | None  # the catalogue version in effect at the last entry


async def chain_head(conn: AsyncConnection, chain: int) -> ChainHead | None:
    """The last entry of `chain` as this transaction sees it; None for an empty chain.

    Without `lock_chain` first, another writer may append right after this is read.
    """
    row = (
        await conn.execute(
            select(
                entries.c.seq,
                entries.c.hash,
                entries.c.source_offset,
                entries.c.catalogue_version,
            )
            .where(entries.c.chain == chain)
            .order_by(entries.c.seq.desc())
            .limit(1)
        )
    ).first()
    if row is None:
        return None
    return ChainHead(
        seq=row.seq,
        hash=bytes(row.hash),
        last_source_offset=row.source_offset,
        catalogue_version=row.catalogue_version,
    )


async def lock_chain(conn: AsyncConnection, chain: int) -> None:
    """Hold the append lock of `chain` until the caller's transaction ends.

    For writers that must read the head and decide what to append under the same lock
    that `append_entries` takes (it is re-entrant within one transaction).
    """
    invariant(conn.in_transaction(), "lock_chain needs the caller's open transaction")
    await conn.execute(select(func.pg_advisory_xact_lock(chain_lock_class, chain)))


async def append_entries(
    conn: AsyncConnection, chain: int, drafts: Sequence[EntryDraft]
) -> list[Entry]:
    """Number, chain and insert `drafts` at the end of `chain`, in the caller's transaction.

    First `pg_advisory_xact_lock` on the chain, held until the caller commits or rolls
    back. Why: seq is assigned from the head this transaction reads, so two writers of
    one chain must not interleave, and a transaction that takes seq n must commit
    before any that takes n + 1 can even read the head. Insert order is then commit
    order: a reader following seq never skips a row that commits later. The lock is
    per chain, so writers of different partitions never wait for each other. The head
    is read after the lock is granted, so the transaction must be READ COMMITTED (the
    default); under REPEATABLE READ its snapshot could predate the previous writer's
    commit.

    At most `append_batch_entries_max` drafts; source offsets must increase. The rows go
    in with one binary COPY. A unique-key conflict (the same source offset or accepted
    event twice) raises `sqlalchemy.exc.IntegrityError`; the transaction is then failed.
    """
    invariant(conn.in_transaction(), "append_entries needs the caller's open transaction")
    invariant(
        len(drafts) <= append_batch_entries_max,
        f"append batch of {len(drafts)} entries exceeds {append_batch_entries_max}",
    )
    if not drafts:
        return []
    await lock_chain(conn, chain)
    head = await chain_head(conn, chain)
    _check_offsets_increase(head, drafts)
    chained = chain_entries(
        chain,
        head.seq if head else 0,
        head.hash if head else GENESIS_HASH,
        drafts,
    )
    await _copy_entries(conn, chained)
    last = chained[-1]
    # The same property on the other side of the boundary: the database now ends there.
    invariant(
        await chain_head(conn, chain)
        == ChainHead(last.seq, last.hash, last.draft.source_offset, last.draft.catalogue_version),
        f"chain {chain} does not end at seq {last.seq} after appending",
    )
    return chained


def _check_offsets_increase(head: ChainHead | None, drafts: Sequence[EntryDraft]) -> None:
    previous = head.last_source_offset if head else -1
    for draft in drafts:
        invariant(
            draft.source_offset > previous,
            f"source offset {draft.source_offset} does not follow {previous}",
        )
        previous = draft.source_offset


def entry_record(entry: Entry) -> tuple[Any, ...]:
    """The row of `entry` in `ENTRY_COLUMNS` order."""
    draft = entry.draft
    return (
        entry.chain,
        entry.seq,
        *(getattr(draft, name) for name in DRAFT_FIELDS),
        entry.prev_hash,
        entry.hash,
    )


async def _copy_entries(conn: AsyncConnection, chained: Sequence[Entry]) -> None:
    raw = await conn.get_raw_connection()
    driver: asyncpg.Connection = raw.driver_connection
    try:
        await driver.copy_records_to_table(
            entries.name,
            schema_name=entries.schema,
            columns=ENTRY_COLUMNS,
            records=[entry_record(entry) for entry in chained],
        )
    except asyncpg.IntegrityConstraintViolationError as error:
        # The same exception the rest of the application gets from SQLAlchemy.
        raise IntegrityError(f"COPY {entries.fullname}", None, error) from error


def entry_from_row(row: Row[Any]) -> Entry:
    """An `Entry` from a row that has every column of `ledger.entries`."""
    mapping = row._mapping
    fields: dict[str, Any] = {name: _python_value(mapping[name]) for name in DRAFT_FIELDS}
    draft = EntryDraft(**fields)
    return Entry(
        chain=mapping["chain"],
        seq=mapping["seq"],
        draft=draft,
        prev_hash=bytes(mapping["prev_hash"]),
        hash=bytes(mapping["hash"]),
    )


def _python_value(value: object) -> object:
    return bytes(value) if isinstance(value, memoryview | bytearray) else value


async def read_chain(conn: AsyncConnection, chain: int, from_seq: int = 1) -> AsyncIterator[Entry]:
    """The entries of `chain` from `from_seq` on, in seq order, through a server-side cursor.

    Fetches `read_chain_fetch_entries` rows per round trip, so memory stays bounded for
    any chain length. Checks on the way that seq has no gap and each entry links to the
    one before (`ledger.store.verify` also recomputes the hashes).
    """
    invariant(from_seq >= 1, f"from_seq {from_seq} is not a seq (they start at 1)")
    statement = (
        select(*(entries.c[name] for name in ENTRY_COLUMNS))
        .where(entries.c.chain == chain, entries.c.seq >= from_seq)
        .order_by(entries.c.seq)
        .execution_options(yield_per=read_chain_fetch_entries)
    )
    expected_seq = from_seq
    previous_hash = GENESIS_HASH if from_seq == 1 else None
    result = await conn.stream(statement)
    try:
        async for row in result:
            entry = entry_from_row(row)
            invariant(
                entry.seq == expected_seq,
                f"chain {chain}: expected seq {expected_seq}, read seq {entry.seq}",
            )
            invariant(
                previous_hash is None or entry.prev_hash == previous_hash,
                f"chain {chain} seq {entry.seq} does not link to seq {entry.seq - 1}",
            )
            yield entry
            expected_seq = entry.seq + 1
            previous_hash = entry.hash
    finally:
        await result.close()
