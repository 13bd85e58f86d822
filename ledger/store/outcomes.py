"""What became of submitted events: the entry written for a raw-log position, or for an id.

The HTTP API knows where each event it sent landed (partition, offset); the entry the
worker wrote for that message is its final outcome. A lookup by (vendor, event_id)
finds every submission of that id, in the order received.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row, text
from sqlalchemy.ext.asyncio import AsyncConnection

from ledger.store.append import chain_head

positions_per_query_max = 10_000  # one request's events: one round trip
submissions_per_event_max = 100  # how many copies of one event id a lookup returns


@dataclass(frozen=True)
class EntryOutcome:
    chain: int
    source_offset: int
    kind: str
    status: str | None
    vendor: str | None
    event_id: str | None
    received_at: datetime
    period: str | None
    licence_id: str | None
    reason_code: str | None
    reason_detail: str | None


_COLUMNS = """e.chain, e.source_offset, e.kind, e.status, e.vendor, e.event_id, e.received_at,
    e.period, e.licence_id, e.reason_code, e.reason_detail"""

_AT_POSITIONS = text(
    f"""
    SELECT {_COLUMNS}
    FROM unnest(CAST(:chains AS int[]), CAST(:offsets AS bigint[])) AS p(chain, source_offset)
    JOIN ledger.entries e ON e.source_topic = :topic AND e.chain = p.chain
        AND e.source_offset = p.source_offset
    """
)

_OF_EVENT = text(
    f"""
    SELECT {_COLUMNS}
    FROM ledger.entries e
    WHERE e.vendor = :vendor AND e.event_id = :event_id AND e.kind = 'event'
    ORDER BY e.received_at, e.chain, e.seq
    LIMIT :limit
    """
)


def _outcome(row: Row[Any]) -> EntryOutcome:
    return EntryOutcome(*tuple(row))


async def outcomes_at(
    conn: AsyncConnection, topic: str, positions: Sequence[tuple[int, int]]
) -> dict[tuple[int, int], EntryOutcome]:
    """The entries written so far for these (partition, offset) positions of `topic`."""
    if len(positions) > positions_per_query_max:
        raise ValueError(f"at most {positions_per_query_max} positions per lookup")
    rows = await conn.execute(
        _AT_POSITIONS,
        {
            "topic": topic,
            "chains": [chain for chain, _ in positions],
            "offsets": [offset for _, offset in positions],
        },
    )
    found = [_outcome(row) for row in rows]
    return {(outcome.chain, outcome.source_offset): outcome for outcome in found}


async def outcomes_of_event(
    conn: AsyncConnection, vendor: str, event_id: str
) -> list[EntryOutcome]:
    """Every entry of one vendor's event id, first received first."""
    rows = await conn.execute(
        _OF_EVENT, {"vendor": vendor, "event_id": event_id, "limit": submissions_per_event_max}
    )
    return [_outcome(row) for row in rows]


async def ledger_positions(conn: AsyncConnection, partitions: Sequence[int]) -> dict[int, int]:
    """Per partition, the next raw-log offset the ledger expects (0 for an empty chain)."""
    positions = {}
    for partition in partitions:
        head = await chain_head(conn, partition)
        positions[partition] = head.last_source_offset + 1 if head is not None else 0
    return positions
