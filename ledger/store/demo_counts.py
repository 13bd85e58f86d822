"""Counts for the demo's summary: what became of every submitted event, and what was settled.

Duplicates and rejected events carry no municipality in the ledger (only accepted
events are attributed), so their school is returned for the caller to place.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

count_rows_max = 100_000  # groups by (municipality, vendor, school, outcome): a few thousand


@dataclass(frozen=True)
class OutcomeCount:
    municipality: str | None
    vendor: str | None
    school: str | None  # only where municipality is None
    status: str | None  # accepted, duplicate, rejected
    unlicensed: bool  # accepted without a licence
    events: int


@dataclass(frozen=True)
class SettledTotal:
    municipality: str
    vendor: str
    total: Decimal  # NOK with VAT, every settlement issued so far


_OUTCOMES = text(
    """
    SELECT municipality, vendor,
           CASE WHEN municipality IS NULL THEN school END AS school,
           status, (status = 'accepted' AND licence_id IS NULL) AS unlicensed,
           count(*) AS events
    FROM ledger.entries
    WHERE kind = 'event'
    GROUP BY 1, 2, 3, 4, 5
    LIMIT :limit
    """
)

_SETTLED = text(
    """
    SELECT municipality, vendor, sum(CAST(CAST(document AS jsonb) ->> 'total' AS numeric)) AS total
    FROM ledger.settlements
    GROUP BY municipality, vendor
    """
)


async def outcome_counts(conn: AsyncConnection) -> list[OutcomeCount]:
    rows = (await conn.execute(_OUTCOMES, {"limit": count_rows_max + 1})).all()
    if len(rows) > count_rows_max:
        raise ValueError(f"more than {count_rows_max} outcome groups: not a demo ledger")
    return [
        OutcomeCount(r.municipality, r.vendor, r.school, r.status, bool(r.unlicensed), r.events)
        for r in rows
    ]


async def settled_totals(conn: AsyncConnection) -> list[SettledTotal]:
    rows = (await conn.execute(_SETTLED)).all()
    return [SettledTotal(r.municipality, r.vendor, Decimal(r.total)) for r in rows]
