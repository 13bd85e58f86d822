"""Closings: where each period was closed in every chain, and which periods are still open.

A closing point is, per chain, the seq of the period's first close entry: entries
before it were known at closing, entries after it are late. It is read from the
entries themselves, so a replay finds the same points in its own ledger.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncConnection

from ledger.domain.canonical import canonical_json
from ledger.domain.invariants import invariant
from ledger.domain.processing import KIND_CLOSE
from ledger.store.schema import closings


@dataclass(frozen=True)
class ClosingPoint:
    close_id: str
    period: str
    heads: dict[int, int]  # chain -> seq of its close entry (exclusive bound)
    head_hashes: dict[int, str]  # chain -> hash hex of the close entry
    catalogue_version: int
    issued_at: datetime

    @property
    def heads_document(self) -> list[dict[str, object]]:
        """The chain heads as recorded in closings and every settlement of this closing."""
        return [
            {"chain": chain, "seq": self.heads[chain], "hash": self.head_hashes[chain]}
            for chain in sorted(self.heads)
        ]


@dataclass(frozen=True)
class Closed:
    close_id: str
    period: str
    heads: dict[int, int]


_OPEN_PERIODS_WITH_USAGE = text(
    """
    WITH RECURSIVE periods(period) AS (
        SELECT min(period) FROM ledger.entries
        WHERE status = 'accepted' AND period < :before
      UNION ALL
        SELECT (SELECT min(e.period) FROM ledger.entries e
                WHERE e.status = 'accepted' AND e.period > p.period
                  AND e.period < :before)
        FROM periods p WHERE p.period IS NOT NULL
    )
    SELECT period FROM periods WHERE period IS NOT NULL
      AND period NOT IN (SELECT period FROM ledger.closings)
    ORDER BY period
    """
)

_CLOSE_ENTRIES = text(
    "SELECT DISTINCT ON (chain) chain, seq, hash, period, catalogue_version,"
    " received_at FROM ledger.entries WHERE kind = :kind AND reference = :close_id"
    " ORDER BY chain, seq"
)


async def closed_periods(conn: AsyncConnection) -> list[Closed]:
    """Every recorded closing, in period order."""
    rows = await conn.execute(
        select(closings.c.close_id, closings.c.period, closings.c.heads).order_by(closings.c.period)
    )
    return [
        Closed(row.close_id, row.period, {h["chain"]: h["seq"] for h in json.loads(row.heads)})
        for row in rows
    ]


async def open_periods_with_usage(conn: AsyncConnection, before: str) -> list[str]:
    """Periods before `before` with accepted events and no closing (loose index scan)."""
    rows = await conn.execute(_OPEN_PERIODS_WITH_USAGE, {"before": before})
    return [row.period for row in rows]


async def closing_point(
    conn: AsyncConnection, close_id: str, chain_count: int
) -> ClosingPoint | None:
    """The first close entry of `close_id` in each of the `chain_count` chains, or None."""
    rows = (await conn.execute(_CLOSE_ENTRIES, {"kind": KIND_CLOSE, "close_id": close_id})).all()
    if {row.chain for row in rows} != set(range(chain_count)):
        return None
    versions = {row.catalogue_version for row in rows}
    invariant(None not in versions, f"{close_id}: closed before any catalogue was loaded")
    return ClosingPoint(
        close_id=close_id,
        period=rows[0].period,
        heads={row.chain: row.seq for row in rows},
        head_hashes={row.chain: bytes(row.hash).hex() for row in rows},
        catalogue_version=max(versions),
        issued_at=min(row.received_at for row in rows),
    )


async def closing_catalogue_version(conn: AsyncConnection, close_id: str) -> int:
    """The catalogue version a recorded closing priced with."""
    version: int = (
        await conn.execute(
            select(closings.c.catalogue_version).where(closings.c.close_id == close_id)
        )
    ).scalar_one()
    return version


async def period_catalogue_version(conn: AsyncConnection, period: str) -> int:
    """The catalogue version the closing of a settled `period` priced with."""
    version: int = (
        await conn.execute(select(closings.c.catalogue_version).where(closings.c.period == period))
    ).scalar_one()
    return version


async def record_closing(conn: AsyncConnection, point: ClosingPoint) -> None:
    """Record the closing with its heads in canonical JSON (`ledger verify` re-checks them)."""
    await conn.execute(
        closings.insert().values(
            close_id=point.close_id,
            period=point.period,
            issued_at=point.issued_at,
            catalogue_version=point.catalogue_version,
            heads=canonical_json(point.heads_document).decode(),
        )
    )
