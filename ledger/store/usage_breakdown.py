"""One municipality's use of one period, broken down for its finance page.

Everything here reads accepted entries of one period through the partial index
`entries_accepted_period_licence (period, licence_id)`, then keeps one municipality's
rows; each list a page shows is bounded (`*_max`) and ordered by size, so the
largest items survive the cut. Counts are of every entry known now (late events
included); settled amounts come from the settlement documents, never from here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncConnection

from ledger.store.schema import settlements
from ledger.store.usage import Heads

school_products_max: Final = 500  # (school, product) rows on one page
unlicensed_rows_max: Final = 500  # (product, school) rows of unlicensed use
licences_max: Final = 10_000  # licences one municipality uses in a month
settlement_keys_max: Final = 2_000  # downloadable settlements listed (about 15 years × 10 vendors)


@dataclass(frozen=True)
class SchoolProductCount:
    school: str
    vendor: str
    product: str
    events: int
    pupils: int  # distinct learners with role pupil


@dataclass(frozen=True)
class LicenceCount:
    licence: str
    events: int
    pupils: int  # distinct learners with role pupil: the licence's active pupils


@dataclass(frozen=True)
class UnlicensedCount:
    vendor: str
    product: str
    school: str
    events: int
    learners: int  # any role, as a settlement's `unlicensed` section counts them
    pupils: int


# One scan for both breakdowns (GROUPING SETS): per school and product, and per licence.
# GROUPING(licence_id) is 0 on the per-licence rows, so they come first, then the school
# rows largest first; the LIMIT keeps every licence and the largest school rows.
_BREAKDOWN = text(
    """
SELECT GROUPING(licence_id) AS per_school, licence_id, school, vendor, product,
       count(*) AS events,
       count(DISTINCT learner_hash) FILTER (WHERE role = 'pupil') AS pupils
FROM ledger.entries
WHERE status = 'accepted' AND period = :period AND municipality = :municipality
GROUP BY GROUPING SETS ((licence_id), (school, vendor, product))
ORDER BY per_school, events DESC, licence_id, school, vendor, product
LIMIT :limit
"""
)

_UNLICENSED = text(
    """
SELECT vendor, product, school, count(*) AS events,
       count(DISTINCT learner_hash) AS learners,
       count(DISTINCT learner_hash) FILTER (WHERE role = 'pupil') AS pupils
FROM ledger.entries
WHERE status = 'accepted' AND period = :period AND licence_id IS NULL
  AND municipality = :municipality
GROUP BY vendor, product, school
ORDER BY events DESC, vendor, product, school
LIMIT :limit
"""
)

# Late events of `period` counted at a later closing: after the period's own close
# entry and before the later one's, per chain (the same bounds `late_licences` uses).
_LATE_EVENTS = text(
    """
WITH then_heads AS (
    SELECT * FROM unnest(CAST(:then_chains AS int[]), CAST(:then_seq_ends AS bigint[]))
        AS h(chain, seq_end)
), now_heads AS (
    SELECT * FROM unnest(CAST(:chains AS int[]), CAST(:seq_ends AS bigint[])) AS h(chain, seq_end)
)
SELECT e.licence_id, count(*) AS events FROM ledger.entries e
JOIN then_heads t ON e.chain = t.chain AND e.seq > t.seq_end
JOIN now_heads n ON e.chain = n.chain AND e.seq < n.seq_end
WHERE e.status = 'accepted' AND e.period = :period AND e.municipality = :municipality
  AND e.licence_id IS NOT NULL
GROUP BY e.licence_id
LIMIT :limit
"""
)


@dataclass(frozen=True)
class UsageBreakdown:
    schools: list[SchoolProductCount]  # largest first, at most `school_products_max`
    licences: dict[str, LicenceCount]  # every licence that covered the municipality's use


async def usage_breakdown(conn: AsyncConnection, municipality: str, period: str) -> UsageBreakdown:
    """Events and active pupils of one municipality's month, per school and product and per
    licence, in one scan of the period's accepted entries."""
    rows = await conn.execute(
        _BREAKDOWN,
        {
            "period": period,
            "municipality": municipality,
            "limit": licences_max + school_products_max,
        },
    )
    schools: list[SchoolProductCount] = []
    licences: dict[str, LicenceCount] = {}
    for row in rows:
        if row.per_school:
            if len(schools) < school_products_max:
                schools.append(
                    SchoolProductCount(row.school, row.vendor, row.product, row.events, row.pupils)
                )
        elif row.licence_id is not None:  # the unlicensed group has its own breakdown
            licences[row.licence_id] = LicenceCount(row.licence_id, row.events, row.pupils)
    return UsageBreakdown(schools, licences)


async def unlicensed_counts(
    conn: AsyncConnection, municipality: str, period: str
) -> list[UnlicensedCount]:
    """Unlicensed use per vendor, product and school, largest first (at most
    `unlicensed_rows_max`)."""
    rows = await conn.execute(
        _UNLICENSED,
        {"period": period, "municipality": municipality, "limit": unlicensed_rows_max},
    )
    return [
        UnlicensedCount(row.vendor, row.product, row.school, row.events, row.learners, row.pupils)
        for row in rows
    ]


def _heads(heads: Heads, prefix: str = "") -> dict[str, list[int]]:
    chains = sorted(heads)
    return {f"{prefix}chains": chains, f"{prefix}seq_ends": [heads[c] for c in chains]}


async def late_event_counts(
    conn: AsyncConnection, municipality: str, period: str, closed_at: Heads, counted_at: Heads
) -> dict[str, int]:
    """Licence -> events of `period` in this municipality that arrived after `period`
    closed (`closed_at`) and before a later closing (`counted_at`)."""
    params = {
        "period": period,
        "municipality": municipality,
        "limit": licences_max,
        **_heads(counted_at),
        **_heads(closed_at, "then_"),
    }
    return {row.licence_id: row.events for row in await conn.execute(_LATE_EVENTS, params)}


async def municipality_settlement_keys(
    conn: AsyncConnection, municipality: str
) -> list[tuple[str, str, str]]:
    """(period, municipality, vendor) of this municipality's settlements, newest period
    first (at most `settlement_keys_max`)."""
    rows = await conn.execute(
        select(settlements.c.period, settlements.c.municipality, settlements.c.vendor)
        .where(settlements.c.municipality == municipality)
        .order_by(settlements.c.period.desc(), settlements.c.vendor)
        .limit(settlement_keys_max)
    )
    return [(row.period, row.municipality, row.vendor) for row in rows]
