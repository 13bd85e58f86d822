"""Closing a period and issuing its settlements.

Closing writes a close marker into every partition of the raw log; the worker turns
each into a `close` entry. The close entries are the closing point: what came before
them in each chain was known at closing, what comes after is late. Settlements are
computed from the ledger as of that point, so `ledger replay` reproduces them exactly.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sqlalchemy.ext.asyncio import AsyncConnection

from billing.settlement import Settlement, settle_period
from ledger.domain.catalogue import Catalogue
from ledger.domain.periods import oslo_date
from ledger.domain.usage import PeriodUsage
from ledger.store.catalogues import catalogue_version
from ledger.store.closings import ClosingPoint, closed_periods, record_closing
from ledger.store.settlements import issued_lines, record_settlement
from ledger.store.usage import Heads, late_licences, measure_period

# Why a settle was refused, for callers that answer machines (the HTTP API).
INVALID_PERIOD = "invalid_period"
PERIOD_NOT_ENDED = "period_not_ended"
PERIOD_ALREADY_SETTLED = "period_already_settled"
LATER_PERIOD_SETTLED = "later_period_settled"
EARLIER_PERIOD_OPEN = "earlier_period_open"
NO_CATALOGUE = "no_catalogue"
CLOSE_NOT_PROCESSED = "close_not_processed"
LEDGER_BEHIND = "ledger_behind"


class SettleRefused(Exception):
    """The period cannot be settled now; the message says why (exit 2), `code` names it."""

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.code = code


def close_id_for(period: str) -> str:
    return f"close-{period}"


async def compute_settlements(
    conn: AsyncConnection,
    catalogue: Catalogue,
    period: str,
    heads: Heads,
    extra: Mapping[str, object],
) -> list[Settlement]:
    """Settlements of `period` as of `heads`, with adjustments for late events."""
    usage = await measure_period(conn, catalogue, period, heads)
    recomputed: dict[str, PeriodUsage] = {}
    for closed in await closed_periods(conn):
        if closed.period >= period:
            continue
        affected = await late_licences(conn, closed.period, closed.heads, heads)
        if affected:
            recomputed[closed.period] = await measure_period(
                conn, catalogue, closed.period, heads, licence_ids=affected, with_unlicensed=False
            )
    return settle_period(period, catalogue, usage, recomputed, await issued_lines(conn), extra)


def closing_extra(point: ClosingPoint) -> dict[str, object]:
    """Keys added to every settlement document of a closing (covered by its digest)."""
    return {
        "close_id": point.close_id,
        "issue_date": oslo_date(point.issued_at).isoformat(),
        "catalogue_version": point.catalogue_version,
        "ledger_heads": point.heads_document,
    }


async def record_settlements(
    conn: AsyncConnection, point: ClosingPoint, issued: Sequence[Settlement]
) -> None:
    """Record the closing and its settlements in the caller's transaction."""
    await record_closing(conn, point)
    for settlement in issued:
        await record_settlement(conn, point.close_id, settlement.to_document())


async def issue_for_closing(conn: AsyncConnection, point: ClosingPoint) -> list[Settlement]:
    """Compute and record the settlements of one closing point (settle and replay)."""
    catalogue = await catalogue_version(conn, point.catalogue_version)
    issued = await compute_settlements(
        conn, catalogue, point.period, point.heads, closing_extra(point)
    )
    await record_settlements(conn, point, issued)
    return issued
