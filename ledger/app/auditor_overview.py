"""What the auditor page shows: closed periods, chain heads and one period's settlements."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from sqlalchemy.ext.asyncio import AsyncConnection

from ledger.app.ledger_reads import ChainHeadView, ledger_heads
from ledger.app.settlement_reads import SettlementsPage, list_settlements
from ledger.domain.invariants import invariant
from ledger.domain.tokens import Principal
from ledger.store.closings import closed_periods

auditor_settlements_page: Final = 200  # 356 municipalities × a few vendors: a few pages at most


@dataclass(frozen=True)
class AuditorOverview:
    period: str | None  # None: nothing has been settled yet and none was asked for
    closed_periods: tuple[str, ...]  # oldest first
    heads: tuple[ChainHeadView, ...]
    settlements: SettlementsPage


async def auditor_overview(
    conn: AsyncConnection, principal: Principal, period: str | None, cursor: str | None
) -> AuditorOverview:
    """`period`'s settlements (default: the latest closed period) and every chain's head.

    Raises `ledger.app.rejections.CursorInvalid` for a cursor not from a page of ours.
    """
    invariant(principal.scope in ("auditor", "admin"), "the auditor overview is for auditors")
    closed = tuple(closing.period for closing in await closed_periods(conn))
    chosen = period if period is not None else (closed[-1] if closed else None)
    settlements = (
        await list_settlements(conn, principal, chosen, cursor, auditor_settlements_page)
        if chosen is not None
        else SettlementsPage([], None)
    )
    return AuditorOverview(chosen, closed, tuple(await ledger_heads(conn)), settlements)
