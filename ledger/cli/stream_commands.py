"""Commands that feed the ledger: catalogue load, ingest, process, worker."""

from __future__ import annotations

import asyncio
import json
import signal
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from ledger.app.catalogue_load import CatalogueFileError, load_catalogue_file, read_catalogue_file
from ledger.app.feed import (
    IngestFileError,
    ProcessingTimeout,
    WorkerFailed,
    ingest_file,
    install_log_throttle,
    outage_limit_s_default,
    process_workspace,
    run_workspace_worker,
)
from ledger.app.rejections import workspace_rejections
from ledger.cli.app import BadInput, WorkspaceOption, app
from ledger.cli.common import console, progress_bar, report_line, run, workspace

catalogue_app = typer.Typer(help="The catalogue of municipalities, vendors and licences.")
app.add_typer(catalogue_app, name="catalogue")


@catalogue_app.command("load")
def catalogue_load(
    file: Annotated[Path, typer.Argument(help="Catalogue file, YAML or JSON.")],
    workspace_name: WorkspaceOption = "default",
) -> None:
    """Validate a catalogue file whole and record it as a new version (idempotent)."""

    try:
        read_catalogue_file(file)  # refuse bad files before starting any service
    except CatalogueFileError as error:
        raise BadInput(str(error)) from error

    async def go():  # type: ignore[no-untyped-def]
        return await load_catalogue_file(await workspace(workspace_name), file)

    result = run(go)
    state = "recorded as new version" if result.changed else "unchanged, still version"
    console.print(
        f"catalogue {state} {result.version} (sha256 {result.sha256[:12]}…):"
        f" {result.municipalities} municipalities, {result.vendors} vendors,"
        f" {result.licences} licences"
    )


@app.command("ingest")
def ingest(
    file: Annotated[Path, typer.Argument(help="Usage events: JSON Lines or Avro container file.")],
    workspace_name: WorkspaceOption = "default",
) -> None:
    """Send a file's usage events to the raw log, as a vendor's producer would."""

    if not file.is_file():
        raise BadInput(f"{file}: no such file")
    total_bytes = file.stat().st_size

    async def go() -> int:
        ws = await workspace(workspace_name)
        with progress_bar() as bar:
            task = bar.add_task("sending", total=None)
            try:
                return await ingest_file(ws, file, progress=lambda n: bar.advance(task, n))
            except IngestFileError as error:
                raise BadInput(str(error)) from error

    sent = run(go)
    console.print(f"sent {sent} events from {file} ({total_bytes} bytes)")


@app.command("process")
def process(
    until_idle: Annotated[
        bool, typer.Option("--until-idle", help="Exit once every sent event is in the ledger.")
    ] = False,
    timeout_s: Annotated[float, typer.Option("--timeout", help="Seconds to wait at most.")] = 1800,
    workspace_name: WorkspaceOption = "default",
) -> None:
    """Run the stream application until every event sent so far is in the ledger."""

    if not until_idle:
        raise BadInput("use --until-idle, or `ledger worker` to run continuously")

    async def go():  # type: ignore[no-untyped-def]
        ws = await workspace(workspace_name)
        with progress_bar() as bar:
            task = bar.add_task("processing", total=None)

            def on_progress(done: int, total: int) -> None:
                bar.update(task, completed=done, total=total)

            try:
                return await process_workspace(ws, timeout_s=timeout_s, on_progress=on_progress)
            except ProcessingTimeout as error:
                raise BadInput(str(error)) from error

    progress = run(go)
    console.print(
        f"processed {progress.written} messages into the ledger: {progress.accepted} accepted,"
        f" {progress.duplicates} identical duplicates ignored, {progress.rejected} rejected"
        " (`ledger rejected` lists why)"
    )


@app.command("worker")
def worker(
    workspace_name: WorkspaceOption = "default",
    outage_limit_s: Annotated[
        float,
        typer.Option(
            "--outage-limit-s",
            help="Exit non-zero when the broker or PostgreSQL stays unreachable this long.",
        ),
    ] = outage_limit_s_default,
    metrics_port: Annotated[
        int, typer.Option("--metrics-port", help="Serve Prometheus metrics on this port (0: off).")
    ] = 0,
) -> None:
    """Run the stream application continuously (stop with Ctrl-C or SIGTERM).

    Rides out broker and database outages; exits non-zero with a one-line reason when it
    cannot go on, so that a supervisor restarts it.
    """
    if outage_limit_s <= 0:
        raise BadInput("--outage-limit-s must be positive")
    if not 0 <= metrics_port <= 65535:
        raise BadInput("--metrics-port must be 0 (off) or a port number")

    async def go():  # type: ignore[no-untyped-def]
        install_log_throttle()
        ws = await workspace(workspace_name)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        console.print(f"worker for workspace {ws.name} running; Ctrl-C stops it")
        return await run_workspace_worker(
            ws, stop, outage_limit_s=outage_limit_s, metrics_port=metrics_port
        )

    try:
        progress = run(go)
    except WorkerFailed as error:
        report_line(f"worker stopped: {error}")
        raise typer.Exit(1) from error
    console.print(f"worker stopped after writing {progress.written} entries")


@app.command("rejected")
def rejected(
    vendor: Annotated[
        str | None, typer.Option("--vendor", help="Only this vendor's (organisation number).")
    ] = None,
    period: Annotated[str | None, typer.Option("--period", help="Only usage of YYYY-MM.")] = None,
    limit: Annotated[int, typer.Option("--limit", help="At most this many.")] = 1000,
    as_json: Annotated[bool, typer.Option("--json", help="JSON Lines output.")] = False,
    workspace_name: WorkspaceOption = "default",
) -> None:
    """Rejected events with their reason codes, for vendors to correct and resend."""

    if limit < 1:
        raise BadInput("--limit must be at least 1")

    async def go():  # type: ignore[no-untyped-def]
        return await workspace_rejections(await workspace(workspace_name), vendor, period, limit)

    found = run(go)
    if as_json:
        for item in found:
            print(json.dumps(item.__dict__, ensure_ascii=False))
        return
    table = Table(title=f"{len(found)} rejected events")
    for column in ("vendor", "event_id", "reason", "detail", "received"):
        table.add_column(column)
    for item in found:
        table.add_row(
            item.vendor or "-",
            item.event_id or "-",
            item.reason_code,
            item.detail,
            item.received_at,
        )
    console.print(table)
