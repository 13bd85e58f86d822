"""`ledger budget set|list`: what a municipality means to spend per licence and month."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.table import Table

from ledger.app.budgets import BudgetRefused, set_budget, workspace_budgets
from ledger.cli.app import BadInput, WorkspaceOption, app
from ledger.cli.common import console, run, workspace
from ledger.domain.money import format_ore
from ledger.domain.periods import period_of

budget_app = typer.Typer(help="Budgets per licence and month; the finance page warns on them.")
app.add_typer(budget_app, name="budget")


@budget_app.command("set")
def budget_set(
    municipality: Annotated[str, typer.Option(help="Kommunenummer of the buyer.")],
    licence: Annotated[str, typer.Option(help="Licence id from the catalogue.")],
    amount: Annotated[str, typer.Option(help="Kroner per month, e.g. 40000.00.")],
    from_period: Annotated[
        str | None,
        typer.Option("--from", help="Standing budget from this month on (YYYY-MM)."),
    ] = None,
    period: Annotated[
        str | None, typer.Option("--period", help="A budget for this month only (YYYY-MM).")
    ] = None,
    workspace_name: WorkspaceOption = "default",
) -> None:
    """Set a budget; without --from or --period it stands from the current month on."""
    if from_period is not None and period is not None:
        raise BadInput("give --from (from a month on) or --period (one month), not both")
    now = datetime.now(UTC)
    month = period or from_period or period_of(now)

    async def go():  # type: ignore[no-untyped-def]
        return await set_budget(
            await workspace(workspace_name),
            municipality=municipality,
            licence=licence,
            amount=amount,
            from_period=month,
            standing=period is None,
            now=now,
        )

    try:
        budget = run(go)
    except BudgetRefused as error:
        raise BadInput(str(error)) from error
    scope = f"from {budget.from_period} on" if budget.standing else f"for {budget.from_period}"
    console.print(
        f"budget {budget.budget_id}: {budget.municipality} {budget.licence}"
        f" {format_ore(budget.amount_ore)} NOK per month {scope}",
        markup=False,
        highlight=False,
    )


@budget_app.command("list")
def budget_list(
    municipality: Annotated[
        str | None, typer.Option(help="Only this municipality's budgets.")
    ] = None,
    workspace_name: WorkspaceOption = "default",
) -> None:
    """Every budget set, oldest first per licence (a later one supersedes an earlier)."""

    async def go():  # type: ignore[no-untyped-def]
        return await workspace_budgets(await workspace(workspace_name), municipality)

    table = Table("id", "municipality", "licence", "from", "standing", "amount", "set at")
    for budget in run(go):
        table.add_row(
            str(budget.budget_id),
            budget.municipality,
            budget.licence,
            budget.from_period,
            "yes" if budget.standing else "no",
            format_ore(budget.amount_ore),
            budget.set_at.isoformat(timespec="seconds"),
        )
    console.print(table)
