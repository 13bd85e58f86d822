"""Measured usage straight from the ledger, as known at a closing point.

The same rules as `billing.metrics.measure_usage` (the reference, over events), done
by PostgreSQL so a month of tens of millions of events settles in seconds. An
integration test checks both give identical usage on the same events.

A closing point is, per chain, the seq of the close marker: entries before it were
known when the period closed; entries after it are late.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping

from sqlalchemy import bindparam, text
from sqlalchemy.ext.asyncio import AsyncConnection

from ledger.domain.catalogue import Catalogue, Licence
from ledger.domain.usage import BuyerUsage, PeriodUsage, UnlicensedCount

# A closing point: chain -> first seq NOT included.
Heads = Mapping[int, int]

_KNOWN = """
WITH heads AS (
    SELECT * FROM unnest(CAST(:chains AS int[]), CAST(:seq_ends AS bigint[])) AS h(chain, seq_end)
), rules AS (
    SELECT * FROM unnest(CAST(:rule_licences AS text[]), CAST(:rule_roles AS text[]),
                         CAST(:rule_units AS text[]), CAST(:rule_metrics AS text[]))
        AS r(licence_id, role, unit, metric)
), known AS (
    SELECT e.* FROM ledger.entries e JOIN heads h ON e.chain = h.chain AND e.seq < h.seq_end
    WHERE e.status = 'accepted' AND e.period = :period
), billable AS (
    SELECT k.*, r.metric FROM known k
    JOIN rules r ON r.licence_id = k.licence_id AND r.role = k.role
        AND (r.unit IS NULL OR r.unit = k.unit)
)
"""

_ACTIVE_LEARNERS = (
    _KNOWN
    + """
SELECT licence_id, municipality, school, learner_hash FROM billable
WHERE metric = 'active_learners'
GROUP BY licence_id, municipality, school, learner_hash
"""
)

# CONTRACT 5.4: for unit access, an event at most 30 s after the previous billable
# event of its (licence, buyer, learner, product, item, action) group adds nothing.
# event_id ordered by code point (COLLATE "C"), as Python orders strings.
_UNITS = (
    _KNOWN
    + """
SELECT licence_id, municipality, school, SUM(quantity)::bigint AS quantity FROM (
    SELECT licence_id, municipality, school, quantity, unit,
           occurred_at - lag(occurred_at) OVER (
               PARTITION BY licence_id, municipality, learner_hash, product, item, action
               ORDER BY occurred_at, event_id COLLATE "C") AS gap
    FROM billable WHERE metric = 'units' AND unit = 'access'
) clicks WHERE gap IS NULL OR gap > interval '30 seconds'
GROUP BY licence_id, municipality, school
UNION ALL
SELECT licence_id, municipality, school, SUM(quantity)::bigint FROM billable
WHERE metric = 'units' AND unit <> 'access'
GROUP BY licence_id, municipality, school
"""
)

_UNLICENSED = """
WITH heads AS (
    SELECT * FROM unnest(CAST(:chains AS int[]), CAST(:seq_ends AS bigint[])) AS h(chain, seq_end)
)
SELECT e.municipality, e.vendor, count(*) AS events, count(DISTINCT e.learner_hash) AS learners
FROM ledger.entries e JOIN heads h ON e.chain = h.chain AND e.seq < h.seq_end
WHERE e.status = 'accepted' AND e.period = :period AND e.licence_id IS NULL
GROUP BY e.municipality, e.vendor
"""

_LATE_LICENCES = """
WITH now_heads AS (
    SELECT * FROM unnest(CAST(:chains AS int[]), CAST(:seq_ends AS bigint[])) AS h(chain, seq_end)
), then_heads AS (
    SELECT * FROM unnest(CAST(:then_chains AS int[]), CAST(:then_seq_ends AS bigint[]))
        AS h(chain, seq_end)
)
SELECT DISTINCT e.licence_id FROM ledger.entries e
JOIN now_heads n ON e.chain = n.chain AND e.seq < n.seq_end
JOIN then_heads t ON e.chain = t.chain AND e.seq > t.seq_end
WHERE e.status = 'accepted' AND e.period = :period AND e.licence_id IS NOT NULL
"""


def _rules(licences: Iterable[Licence]) -> dict[str, list[str | None]]:
    columns: dict[str, list[str | None]] = {
        "rule_licences": [],
        "rule_roles": [],
        "rule_units": [],
        "rule_metrics": [],
    }
    for licence in licences:
        if licence.pricing.metric == "fixed_per_pupil":
            continue
        for role in licence.billable_roles:
            columns["rule_licences"].append(licence.id)
            columns["rule_roles"].append(role)
            columns["rule_units"].append(
                licence.pricing.unit if licence.pricing.metric == "units" else None
            )
            columns["rule_metrics"].append(licence.pricing.metric)
    return columns


def _heads_params(heads: Heads, prefix: str = "") -> dict[str, list[int]]:
    chains = sorted(heads)
    return {f"{prefix}chains": chains, f"{prefix}seq_ends": [heads[c] for c in chains]}


async def measure_period(
    conn: AsyncConnection,
    catalogue: Catalogue,
    period: str,
    heads: Heads,
    *,
    licence_ids: set[str] | None = None,
    with_unlicensed: bool = True,
) -> PeriodUsage:
    """Event-based usage of `period` from entries before `heads` (fixed_per_pupil excluded)."""
    licences = [lic for lic in catalogue.licences if licence_ids is None or lic.id in licence_ids]
    params: dict[str, object] = {"period": period, **_heads_params(heads), **_rules(licences)}
    learners: dict[tuple[str, str], set[bytes]] = defaultdict(set)
    school_learners: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for row in await conn.execute(text(_ACTIVE_LEARNERS), params):
        learners[(row.licence_id, row.municipality)].add(row.learner_hash)
        school_learners[(row.licence_id, row.municipality)][row.school] += 1
    by_licence: dict[str, dict[str, BuyerUsage]] = defaultdict(dict)
    for (licence_id, municipality), hashes in learners.items():
        by_licence[licence_id][municipality] = BuyerUsage(
            quantity=len(hashes), per_school=dict(school_learners[(licence_id, municipality)])
        )
    unit_totals: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for row in await conn.execute(text(_UNITS), params):
        unit_totals[(row.licence_id, row.municipality)][row.school] += int(row.quantity)
    for (licence_id, municipality), per_school in unit_totals.items():
        by_licence[licence_id][municipality] = BuyerUsage(
            quantity=sum(per_school.values()), per_school=dict(per_school)
        )
    unlicensed: dict[tuple[str, str], UnlicensedCount] = {}
    if with_unlicensed:
        rows = await conn.execute(text(_UNLICENSED), {"period": period, **_heads_params(heads)})
        for row in rows:
            unlicensed[(row.municipality, row.vendor)] = UnlicensedCount(row.events, row.learners)
    return PeriodUsage(period=period, by_licence=dict(by_licence), unlicensed=unlicensed)


async def late_licences(
    conn: AsyncConnection, period: str, closed_at: Heads, now: Heads
) -> set[str]:
    """Licences with events of `period` that arrived after it closed and before `now`."""
    params = {"period": period, **_heads_params(now), **_heads_params(closed_at, "then_")}
    rows = await conn.execute(text(_LATE_LICENCES).bindparams(bindparam("period")), params)
    return {row.licence_id for row in rows}
