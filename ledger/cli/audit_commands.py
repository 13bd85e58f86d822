"""Commands for auditors: verify, trace, replay, archive."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from ledger.app.archive import ArchiveError, archive_period
from ledger.app.replay import replay as replay_
from ledger.app.trace import TraceError, trace_in_workspace
from ledger.app.verify import verify_workspace
from ledger.cli.app import BadInput, WorkspaceOption, app, checked_workspace
from ledger.cli.common import console, progress_bar, report_line, run, workspace
from ledger.domain.periods import parse_period


@app.command("verify")
def verify(workspace_name: WorkspaceOption = "default") -> None:
    """Recompute every hash chain and settlement digest; exit 1 naming the first damage."""

    async def go():  # type: ignore[no-untyped-def]
        ws = await workspace(workspace_name)
        with progress_bar() as bar:
            task = bar.add_task("verifying", total=None)

            def on_progress(done: int, total: int) -> None:
                bar.update(task, completed=done, total=total)

            return await verify_workspace(ws, progress=on_progress)

    started = time.perf_counter()
    report = run(go)
    seconds = time.perf_counter() - started
    if not report.ok:
        # The first line names the first damage (CONTRACT 4); the rest help the audit.
        report_line(f"DAMAGED: {report.first_damage}")
        more = report.damages[1:]
        if report.damages_found > 1:
            shown = f", the next {len(more)}:" if more else ""
            report_line(f"{report.damages_found} damages found in all{shown}")
        for damage in more:
            report_line(f"  {damage}")
        raise typer.Exit(1)
    rate = report.entries_checked / seconds if seconds > 0 else 0.0
    console.print(
        f"intact: {report.entries_checked:,} entries in {report.chains} chains,"
        f" {report.closings_checked} closings, {report.settlements_checked} settlements"
        f" ({seconds:.2f} s, {rate:,.0f} entries/s)"
    )


@app.command("trace")
def trace(
    settlement: Annotated[
        str, typer.Argument(help="Settlement JSON file, or id <period>_<municipality>_<vendor>.")
    ],
    line: Annotated[int | None, typer.Option("--line", help="Only this line (1-based).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="JSON output.")] = False,
    workspace_name: WorkspaceOption = "default",
) -> None:
    """List the events behind a settlement's lines."""

    async def go():  # type: ignore[no-untyped-def]
        ws = await workspace(workspace_name)
        try:
            return await trace_in_workspace(ws, settlement, line)
        except TraceError as error:
            raise BadInput(str(error)) from error

    traced = run(go)
    if as_json:
        for item in traced:
            print(json.dumps(item.__dict__ | {"events": [e.__dict__ for e in item.events]}))
        return
    for item in traced:
        counted = sum(1 for e in item.events if e.counted)
        kind = "adjustment" if item.adjustment else "line"
        console.print(
            f"{item.settlement} {kind} {item.line_no}: licence {item.licence},"
            f" usage {item.usage_period}, quantity {item.quantity}, amount {item.amount}:"
            f" {len(item.events)} events ({counted} counted)"
        )
        table = Table()
        for column in ("event_id", "school", "occurred_at", "quantity", "counted"):
            table.add_column(column)
        for event in item.events:
            table.add_row(
                event.event_id,
                event.school,
                event.occurred_at,
                str(event.quantity),
                "yes" if event.counted else "no (double-click)",
            )
        console.print(table)


@app.command("replay")
def replay(
    to_workspace: Annotated[str, typer.Option("--to-workspace", help="Empty workspace to build.")],
    from_archive: Annotated[
        Path | None, typer.Option("--from-archive", help="Read archived months first.")
    ] = None,
    workspace_name: WorkspaceOption = "default",
) -> None:
    """Rebuild the ledger from the raw log in an empty workspace and compare (1: differs)."""

    target_name = checked_workspace(to_workspace)
    if target_name == workspace_name:
        raise BadInput("--to-workspace must name another workspace than the source")

    async def go():  # type: ignore[no-untyped-def]
        source = await workspace(workspace_name)
        target = await workspace(target_name)
        try:
            return await replay_(source, target, archive_dir=from_archive)
        except ArchiveError as error:
            raise BadInput(str(error)) from error

    report = run(go)
    if not report.identical:
        report_line(
            f"replay differs in {report.difference_count} places ({report.entries_compared}"
            f" entries, {report.settlements_compared} settlements compared):"
        )
        for difference in report.differences:
            report_line(f"  {difference}")
        raise typer.Exit(1)
    console.print(
        f"identical: {report.entries_compared} entries and {report.settlements_compared}"
        f" settlements reproduced in workspace {target_name}"
    )


@app.command("archive")
def archive(
    period: Annotated[str, typer.Option("--period", help="A settled month YYYY-MM.")],
    out: Annotated[Path, typer.Option("--out", help="Archive root directory.")] = Path("archive"),
    workspace_name: WorkspaceOption = "default",
) -> None:
    """Write a settled month's raw events and ledger entries to Avro files with a manifest."""

    try:
        period = parse_period(period)
    except ValueError as error:
        raise BadInput(str(error)) from error

    async def go() -> Path:
        ws = await workspace(workspace_name)
        try:
            return await archive_period(ws, period, out)
        except ArchiveError as error:
            raise BadInput(str(error)) from error

    directory = run(go)
    console.print(f"archived {period} to {directory}")
