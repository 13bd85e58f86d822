"""Budgets per municipality, licence and month: recorded, listed, and the ones in force.

Rows are never changed (revision 0004): a budget set again is a new row, and the
latest row (highest `budget_id`) that applies to a month wins. Two budgets set for
the same licence at the same moment are a race no ordering can settle for the
user; the identity column picks one, and `ledger budget list` shows both.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from sqlalchemy import Row, and_, or_, select
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.ext.asyncio import AsyncConnection

from ledger.store.schema import budgets

budgets_listed_max: Final = 10_000  # `ledger budget list` shows at most this many rows
budgets_in_force_max: Final = 10_000  # licences one municipality can have a budget for


@dataclass(frozen=True)
class Budget:
    budget_id: int
    municipality: str
    licence: str
    from_period: str
    standing: bool  # false: for `from_period` only; true: from it on
    amount_ore: int
    set_at: datetime


async def insert_budget(
    conn: AsyncConnection,
    *,
    municipality: str,
    licence: str,
    from_period: str,
    standing: bool,
    amount_ore: int,
    set_at: datetime,
) -> int:
    """Record a budget; returns its id."""
    budget_id: int = (
        await conn.execute(
            budgets.insert()
            .values(
                municipality=municipality,
                licence=licence,
                from_period=from_period,
                standing=standing,
                amount_ore=amount_ore,
                set_at=set_at,
            )
            .returning(budgets.c.budget_id)
        )
    ).scalar_one()
    return budget_id


def _budget(row: Row[Any]) -> Budget:
    return Budget(
        budget_id=row.budget_id,
        municipality=row.municipality,
        licence=row.licence,
        from_period=row.from_period,
        standing=row.standing,
        amount_ore=row.amount_ore,
        set_at=row.set_at,
    )


async def list_budgets(conn: AsyncConnection, municipality: str | None) -> list[Budget]:
    """Every budget row (of one municipality, or all), by municipality, licence, then age."""
    query = (
        select(budgets)
        .order_by(budgets.c.municipality, budgets.c.licence, budgets.c.budget_id)
        .limit(budgets_listed_max)
    )
    if municipality is not None:
        query = query.where(budgets.c.municipality == municipality)
    return [_budget(row) for row in await conn.execute(query)]


async def budgets_in_force(conn: AsyncConnection, municipality: str, period: str) -> dict[str, int]:
    """Licence id -> budget in øre for `period`: the latest row that applies to it."""
    applies = or_(
        and_(budgets.c.standing, budgets.c.from_period <= period),
        and_(~budgets.c.standing, budgets.c.from_period == period),
    )
    query = (
        select(budgets.c.licence, budgets.c.amount_ore)
        .ext(distinct_on(budgets.c.licence))
        .where((budgets.c.municipality == municipality) & applies)
        .order_by(budgets.c.licence, budgets.c.budget_id.desc())
        .limit(budgets_in_force_max)
    )
    return {row.licence: row.amount_ore for row in await conn.execute(query)}
