"""Reads of ledger entries for the use cases: chain ends, rejections, traces, replay, archives.

Writing entries is `ledger.store.append`'s; the usage a settlement prices is
`ledger.store.usage`'s. These are the other questions asked of `ledger.entries`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncConnection

from ledger.domain.catalogue import Licence
from ledger.domain.processing import STATUS_REJECTED
from ledger.domain.usage import BillableEvent
from ledger.store.schema import entries

entry_hashes_fetch_rows = 50_000  # rows per round trip when streaming every entry's hash
chains_max = 10_000  # far above any raw topic's partition count; bounds a position vector


@dataclass(frozen=True)
class RejectedEntry:
    vendor: str | None
    event_id: str | None
    received_at: datetime
    reason_code: str
    reason_detail: str | None
    chain: int
    source_offset: int
    seq: int


@dataclass(frozen=True)
class ChainHead:
    """The last entry of one chain: what an auditor pins a verification to."""

    chain: int
    seq: int
    hash: bytes


# The chains present, by a loose index scan (one index probe per chain, not a full scan).
_CHAINS_CTE = """
    WITH RECURSIVE chains(chain) AS (
        SELECT min(chain) FROM ledger.entries
      UNION ALL
        SELECT (SELECT min(e.chain) FROM ledger.entries e WHERE e.chain > c.chain)
        FROM chains c WHERE c.chain IS NOT NULL
    )
"""

_CHAIN_ENDS = text(
    _CHAINS_CTE
    + """
    SELECT chain, (SELECT max(seq) FROM ledger.entries e WHERE e.chain = chains.chain)
        AS seq
    FROM chains WHERE chain IS NOT NULL
    """
)

# Billable events of one licence, buyer and period between two closing points (seq_start
# exclusive, seq_end exclusive), in the order of the 30-second double-click rule's groups.
_LICENCE_EVENTS = text(
    """
    WITH heads AS (
        SELECT * FROM unnest(CAST(:chains AS int[]), CAST(:seq_ends AS bigint[]),
                             CAST(:seq_starts AS bigint[])) AS h(chain, seq_end, seq_start)
    )
    SELECT e.event_id, e.licence_id, e.municipality, e.school, e.learner_hash, e.role,
           e.product, e.action, e.item, e.quantity, e.unit, e.occurred_at
    FROM ledger.entries e JOIN heads h ON e.chain = h.chain
        AND e.seq < h.seq_end AND e.seq > h.seq_start
    WHERE e.status = 'accepted' AND e.licence_id = :licence AND e.municipality = :municipality
      AND e.period = :usage_period AND e.role = ANY(CAST(:roles AS text[]))
      AND (CAST(:unit AS text) IS NULL OR e.unit = :unit)
    ORDER BY e.learner_hash, e.product, e.item, e.action, e.occurred_at, e.event_id COLLATE "C"
    LIMIT :limit
    """
)


# Each chain's last entry: the chains by a loose index scan, then one index probe each.
_CHAIN_HEADS = text(
    _CHAINS_CTE
    + """
    SELECT head.chain, head.seq, head.hash
    FROM chains CROSS JOIN LATERAL (
        SELECT e.chain, e.seq, e.hash FROM ledger.entries e
        WHERE e.chain = chains.chain ORDER BY e.seq DESC LIMIT 1
    ) AS head
    WHERE chains.chain IS NOT NULL
    ORDER BY head.chain
    LIMIT :limit
    """
)

# One vendor's rejected entries after a position per chain (seq > the chain's position,
# 0 when absent), in (chain, seq) order. Per chain, seq order is commit order (the
# writer's advisory lock per chain), so a reader that resumes from these positions
# never skips an entry committed after it read; a single position across chains
# (received_at, say) could, when one partition's worker runs behind another's.
_REJECTED_AFTER = text(
    """
    WITH positions AS (
        SELECT * FROM unnest(CAST(:chains AS int[]), CAST(:seqs AS bigint[])) AS p(chain, seq)
    )
    SELECT e.vendor, e.event_id, e.received_at, e.reason_code, e.reason_detail, e.chain,
           e.source_offset, e.seq
    FROM ledger.entries e LEFT JOIN positions p ON p.chain = e.chain
    WHERE e.status = 'rejected' AND e.vendor = :vendor
      AND e.seq > coalesce(p.seq, 0)
      AND e.received_at >= :since
    ORDER BY e.chain, e.seq
    LIMIT :limit
    """
)


async def chain_ends(conn: AsyncConnection) -> dict[int, int]:
    """Per chain, the seq after the last entry: 'everything known now' (loose index scan)."""
    rows = await conn.execute(_CHAIN_ENDS)
    return {row.chain: row.seq + 1 for row in rows}


async def chain_heads(conn: AsyncConnection) -> list[ChainHead]:
    """Every chain's last entry, by chain (at most `chains_max`)."""
    rows = await conn.execute(_CHAIN_HEADS, {"limit": chains_max})
    return [ChainHead(row.chain, row.seq, bytes(row.hash)) for row in rows]


async def entry_count(conn: AsyncConnection) -> int:
    return int((await conn.execute(select(func.count()).select_from(entries))).scalar_one())


async def entry_hashes(conn: AsyncConnection) -> AsyncIterator[tuple[int, int, bytes]]:
    """(chain, seq, hash) in order, streamed with a server-side cursor (bounded memory)."""
    result = await conn.stream(
        select(entries.c.chain, entries.c.seq, entries.c.hash)
        .order_by(entries.c.chain, entries.c.seq)
        .execution_options(yield_per=entry_hashes_fetch_rows)
    )
    async for row in result:
        yield row.chain, row.seq, bytes(row.hash)


def _rejected_entry(row: Any) -> RejectedEntry:
    return RejectedEntry(
        vendor=row.vendor,
        event_id=row.event_id,
        received_at=row.received_at,
        reason_code=row.reason_code,
        reason_detail=row.reason_detail,
        chain=row.chain,
        source_offset=row.source_offset,
        seq=row.seq,
    )


async def rejected_entries(
    conn: AsyncConnection, vendor: str | None, period: str | None, limit: int
) -> list[RejectedEntry]:
    """Rejected entries in the order they were received, of one vendor and period if given."""
    query = (
        select(
            entries.c.vendor,
            entries.c.event_id,
            entries.c.received_at,
            entries.c.reason_code,
            entries.c.reason_detail,
            entries.c.chain,
            entries.c.source_offset,
            entries.c.seq,
        )
        .where(entries.c.status == STATUS_REJECTED)
        .order_by(entries.c.received_at, entries.c.chain, entries.c.seq)
        .limit(limit)
    )
    if vendor is not None:
        query = query.where(entries.c.vendor == vendor)
    if period is not None:
        query = query.where(entries.c.period == period)
    return [_rejected_entry(row) for row in await conn.execute(query)]


async def rejected_entries_after(
    conn: AsyncConnection,
    vendor: str,
    positions: Mapping[int, int],
    since: datetime,
    limit: int,
) -> list[RejectedEntry]:
    """One vendor's rejected entries received at or after `since`, after `positions`.

    `positions` maps a chain to the last seq already read in it. Ordered by (chain, seq):
    the next page starts after the last seq returned in each chain.
    """
    chains = sorted(positions)
    rows = await conn.execute(
        _REJECTED_AFTER,
        {
            "chains": chains,
            "seqs": [positions[chain] for chain in chains],
            "vendor": vendor,
            "since": since,
            "limit": limit,
        },
    )
    return [_rejected_entry(row) for row in rows]


async def licence_events(
    conn: AsyncConnection,
    licence: Licence,
    municipality: str,
    usage_period: str,
    ends: Mapping[int, int],
    starts: Mapping[int, int],
    limit: int,
) -> list[BillableEvent]:
    """The licence's billable events of one buyer and period, after `starts` and before `ends`.

    Per chain, seqs strictly between `starts` (0 when absent) and `ends`. Ordered by
    (learner, product, item, action, occurred_at, event_id), the double-click groups.
    """
    chains = sorted(ends)
    rows = await conn.execute(
        _LICENCE_EVENTS,
        {
            "chains": chains,
            "seq_ends": [ends[c] for c in chains],
            "seq_starts": [starts.get(c, 0) for c in chains],
            "licence": licence.id,
            "municipality": municipality,
            "usage_period": usage_period,
            "roles": list(licence.billable_roles),
            "unit": licence.pricing.unit if licence.pricing.metric == "units" else None,
            "limit": limit,
        },
    )
    return [
        BillableEvent(
            event_id=row.event_id,
            licence_id=row.licence_id,
            municipality=row.municipality,
            school=row.school,
            learner_hash=row.learner_hash,
            role=row.role,
            product=row.product,
            action=row.action,
            item=row.item,
            quantity=row.quantity,
            unit=row.unit,
            occurred_at=row.occurred_at,
        )
        for row in rows
    ]


def entry_column_types() -> list[tuple[str, type]]:
    """Every column of `ledger.entries` in table order, with its Python type (for archives)."""
    return [(column.name, column.type.python_type) for column in entries.columns]


async def source_offsets(conn: AsyncConnection, chain: int, seqs: Sequence[int]) -> dict[int, int]:
    """The raw-log offset of each of `seqs` in `chain` that exists: seq -> offset."""
    rows = await conn.execute(
        select(entries.c.seq, entries.c.source_offset)
        .where(entries.c.chain == chain)
        .where(entries.c.seq.in_(list(seqs)))
    )
    return {row.seq: row.source_offset for row in rows}


async def entries_between(
    conn: AsyncConnection, chain: int, first_seq: int, last_seq: int
) -> list[dict[str, Any]]:
    """Every column of the entries first_seq..last_seq (inclusive) of one chain, in seq order."""
    result = await conn.stream(
        select(entries)
        .where(entries.c.chain == chain)
        .where(entries.c.seq.between(first_seq, last_seq))
        .order_by(entries.c.seq)
    )
    return [dict(row._mapping) async for row in result]
