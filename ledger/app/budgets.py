"""Budgets a municipality sets per licence (`ledger budget set|list`).

A budget is what the municipality means to spend on a licence in a month; the
finance page warns when the month's forecast crosses it. It is checked against the
latest catalogue when set: a budget for a licence the municipality does not buy
would never be compared with anything, so it is refused rather than kept silently.
"""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal
from typing import Final

from ledger.app.workspace import Workspace, ledger_connection
from ledger.domain.catalogue import Catalogue
from ledger.domain.money import parse_amount
from ledger.domain.periods import parse_period
from ledger.store.budgets import Budget, insert_budget, list_budgets
from ledger.store.catalogues import latest_catalogue
from ledger.store.engine import create_ledger_engine

__all__ = [
    "Budget",
    "BudgetRefused",
    "budget_amount_ore",
    "budget_nok_max",
    "set_budget",
    "workspace_budgets",
]

budget_nok_max: Final = Decimal(10) ** 10  # as a catalogue price: øre stay far inside a bigint
_BUDGET_TEXT: Final = re.compile(r"[0-9]+(\.[0-9]{1,2})?", re.ASCII)


class BudgetRefused(Exception):
    """A budget that cannot be set as given: one line saying what to fix."""


def budget_amount_ore(text: str) -> int:
    """A budget in kroner ("40000.00", at most two decimals, above zero) as øre."""
    if _BUDGET_TEXT.fullmatch(text) is None:
        raise BudgetRefused(
            f"--amount {text!r} is not an amount in kroner with at most two decimals,"
            " for example 40000.00"
        )
    amount_ore = parse_amount(text)
    if amount_ore <= 0:
        raise BudgetRefused(f"--amount {text} must be above zero")
    if Decimal(text) > budget_nok_max:
        raise BudgetRefused(f"--amount {text} is above the limit of {budget_nok_max} NOK")
    return amount_ore


def _check_buyer(catalogue: Catalogue, municipality: str, licence_id: str) -> None:
    if catalogue.municipality(municipality) is None:
        raise BudgetRefused(f"municipality {municipality} is not in the latest catalogue")
    licence = catalogue.licence(licence_id)
    if licence is None:
        raise BudgetRefused(f"licence {licence_id} is not in the latest catalogue")
    if municipality not in licence.buyers:
        raise BudgetRefused(
            f"municipality {municipality} is not a buyer of licence {licence_id}"
            f" (its buyers: {', '.join(licence.buyers)})"
        )


async def set_budget(
    ws: Workspace,
    *,
    municipality: str,
    licence: str,
    amount: str,
    from_period: str,
    standing: bool,
    now: datetime,
) -> Budget:
    """Record a budget for `from_period` (or from it on, when `standing`); `BudgetRefused`
    for bad input."""
    try:
        parse_period(from_period)
    except ValueError as error:
        raise BudgetRefused(str(error)) from error
    amount_ore = budget_amount_ore(amount)
    engine = create_ledger_engine(ws.database_url)
    try:
        async with engine.begin() as conn:
            latest = await latest_catalogue(conn)
            if latest is None:
                raise BudgetRefused("no catalogue loaded: run `ledger catalogue load FILE` first")
            _check_buyer(latest.catalogue, municipality, licence)
            budget_id = await insert_budget(
                conn,
                municipality=municipality,
                licence=licence,
                from_period=from_period,
                standing=standing,
                amount_ore=amount_ore,
                set_at=now,
            )
    finally:
        await engine.dispose()
    return Budget(budget_id, municipality, licence, from_period, standing, amount_ore, now)


async def workspace_budgets(ws: Workspace, municipality: str | None = None) -> list[Budget]:
    """Every budget set (of one municipality, or all), oldest first per licence."""
    async with ledger_connection(ws) as conn:
        return await list_budgets(conn, municipality)
