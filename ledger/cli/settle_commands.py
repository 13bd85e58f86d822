"""Commands for municipal finance and vendors: settle, usage, export."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Literal

import typer
from rich.table import Table

from ledger.app.export import EhfInvalid, export_period
from ledger.app.month_to_date import month_to_date
from ledger.app.settle import SettleRefused
from ledger.app.settle_run import settle as settle_period_
from ledger.app.workspace import stream_target
from ledger.cli.app import BadInput, WorkspaceOption, app
from ledger.cli.common import console, run, workspace
from ledger.domain.invariants import InvariantViolation
from ledger.domain.periods import parse_period

PeriodOption = Annotated[str, typer.Option("--period", help="Calendar month YYYY-MM (Oslo).")]


def _checked_period(text: str) -> str:

    try:
        return parse_period(text)
    except ValueError as error:
        raise BadInput(str(error)) from error


def _summary_table(title: str, documents: list[dict[str, object]]) -> Table:
    table = Table(title=title)
    for column in ("municipality", "vendor", "lines", "subtotal", "vat", "total", "unlicensed"):
        table.add_column(column, justify="right" if column != "vendor" else "left")
    for document in documents:
        lines = document["lines"]
        unlicensed = document["unlicensed"]
        if not (isinstance(lines, list) and isinstance(unlicensed, dict)):
            raise InvariantViolation("a settlement document without lines or unlicensed")
        table.add_row(
            str(document["municipality"]),
            str(document["vendor"]),
            str(len(lines)),
            str(document["subtotal"]),
            str(document["vat"]),
            str(document["total"]),
            f"{unlicensed['events']} events / {unlicensed['learners']} learners",
        )
    return table


@app.command("settle")
def settle(
    period: PeriodOption,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Preview; close nothing.")] = False,
    workspace_name: WorkspaceOption = "default",
) -> None:
    """Close a period and issue its settlements (per municipality and vendor)."""

    period = _checked_period(period)

    async def go():  # type: ignore[no-untyped-def]
        ws = await workspace(workspace_name)
        try:
            return await settle_period_(
                ws, stream_target(ws), period, datetime.now(UTC), dry_run=dry_run
            )
        except SettleRefused as error:
            raise BadInput(str(error)) from error

    issued = run(go)
    documents = [s.to_document() for s in issued]
    title = f"{'preview of ' if dry_run else ''}settlements for {period}"
    console.print(_summary_table(title, documents))
    verb = "would issue" if dry_run else "issued"
    console.print(f"{verb} {len(documents)} settlements for {period}")


@app.command("usage")
def usage(period: PeriodOption, workspace_name: WorkspaceOption = "default") -> None:
    """Month-to-date usage and amounts per licence and school, against caps."""

    period = _checked_period(period)

    async def go():  # type: ignore[no-untyped-def]
        ws = await workspace(workspace_name)
        return await month_to_date(ws, stream_target(ws), period)

    rows = run(go)
    table = Table(title=f"usage so far in {period}")
    for column in ("licence", "buyer", "school", "metric", "quantity", "amount", "cap"):
        table.add_column(column)
    for row in rows:
        table.add_row(*row)
    console.print(table)


@app.command("export")
def export(
    period: PeriodOption,
    format_: Annotated[
        Literal["json", "csv", "ehf"], typer.Option("--format", help="json, csv or ehf.")
    ],
    out: Annotated[Path, typer.Option("--out", help="Directory to write the files into.")],
    workspace_name: WorkspaceOption = "default",
) -> None:
    """Write one file per settlement of the period: <period>_<municipality>_<vendor>.<ext>."""

    period = _checked_period(period)
    if out.exists() and not out.is_dir():
        raise BadInput(f"{out} exists and is not a directory")

    async def go() -> list[Path]:
        ws = await workspace(workspace_name)
        try:
            return await export_period(ws, period, format_, out)
        except EhfInvalid as error:
            raise BadInput(str(error)) from error

    written = run(go)
    if not written:
        raise BadInput(f"no settlements issued for {period}: run `ledger settle --period {period}`")
    console.print(f"wrote {len(written)} {format_} files for {period} to {out}")
