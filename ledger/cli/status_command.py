"""`ledger status`: per raw-topic partition, the ledger's position, the log end, the lag,
the last batch written, and what each worker is doing. Always exit 0: it reports."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from ledger.app.status import WorkspaceStatus, utc_text, workspace_status
from ledger.cli.app import WorkspaceOption, app
from ledger.cli.common import console, report_line, run, workspace

WORKER_STATE_WORDS = {
    "running": "running",
    "waiting_for_broker": "waiting for the broker",
    "waiting_for_database": "waiting for the database",
}


def _table(status: WorkspaceStatus) -> Table:
    table = Table(title=f"workspace {status.workspace}: raw topic partitions")
    for column in ("partition", "ledger position", "log end", "lag", "last batch", "worker"):
        table.add_column(column, justify="left" if column == "last batch" else "right")
    for p in status.partitions:
        table.add_row(
            str(p.partition),
            str(p.ledger_position),
            str(p.log_end_offset),
            str(p.lag),
            utc_text(p.last_batch_at) or "-",
            "-" if p.worker_pid is None else str(p.worker_pid),
        )
    return table


def _print(status: WorkspaceStatus) -> None:
    console.print(_table(status))
    console.print(f"lag: {status.lag} messages")
    if not status.workers:
        console.print("no worker running", markup=False)
    for worker in status.workers:
        console.print(
            f"worker {worker.pid}: {WORKER_STATE_WORDS.get(worker.state, worker.state)}"
            f" since {utc_text(worker.since)}, {len(worker.partitions)} partitions",
            markup=False,
        )
    for ignored in status.ignored:
        report_line(f"ignored {ignored.path}: {ignored.reason}")


@app.command("status")
def status(
    workspace_name: WorkspaceOption = "default",
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object, for machines.")] = False,
) -> None:
    """Show the ledger's lag behind the raw log per partition, and the workers' states."""

    async def go() -> WorkspaceStatus:
        return await workspace_status(await workspace(workspace_name))

    found = run(go)
    if as_json:
        print(json.dumps(found.to_document(), indent=2))
    else:
        _print(found)
