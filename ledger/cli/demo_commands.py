"""`ledger demo generate|send|settle|summary`: the whole partnership, end to end."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from ledger.app.demo_generate import demo_settings, generate_demo
from ledger.app.demo_send import (
    DemoSendError,
    concurrent_requests_default,
    files_of_part,
    read_tokens,
    send_part,
    settle_through_api,
)
from ledger.app.demo_summary import SummaryRow, demo_summary, total_row
from ledger.app.demo_tokens import create_demo_tokens, write_tokens
from ledger.cli.app import BadInput, WorkspaceOption, app
from ledger.cli.common import console, progress_bar, run, workspace
from ledger.domain.catalogue import Catalogue
from ledger.domain.periods import parse_period

demo_app = typer.Typer(help="The partnership demo: generate, send, settle, summarise.")
app.add_typer(demo_app, name="demo")

UrlOption = Annotated[str, typer.Option("--url", help="Base URL of a running `ledger serve`.")]
TokensOption = Annotated[
    Path, typer.Option("--tokens", help="File of `<scope> <subject> <token>` lines.")
]


def _checked_period(text: str) -> str:
    try:
        return parse_period(text)
    except ValueError as error:
        raise BadInput(str(error)) from error


def _tokens(path: Path) -> dict[tuple[str, str], str]:
    if not path.is_file():
        raise BadInput(f"{path}: no such tokens file")
    try:
        return read_tokens(path)
    except DemoSendError as error:
        raise BadInput(str(error)) from error


@demo_app.command("generate")
def generate(
    out: Annotated[Path, typer.Option("--out", help="Folder to write into.")],
    seed: Annotated[int, typer.Option("--seed", help="Same seed, same files.")] = 1,
    events: Annotated[int, typer.Option("--events", help="Events in all.")] = 1_000_000,
) -> None:
    """Write the catalogue, the events per month and vendor, and a manifest."""
    try:
        settings = demo_settings(seed, events)
    except ValueError as error:
        raise BadInput(str(error)) from error
    if out.exists() and not out.is_dir():
        raise BadInput(f"{out} exists and is not a directory")
    with progress_bar() as bar:
        task = bar.add_task("generating", total=None)

        def generated(total: int) -> None:
            bar.update(task, description="writing", total=total, completed=0)

        made = generate_demo(
            settings, out, on_generated=generated, progress=lambda n: bar.advance(task, n)
        )
    counts = made.counts
    console.print(
        f"wrote {counts.total} events in {len(made.files)} files to {out}:"
        f" {counts.duplicates} resent, {counts.late} late, {sum(counts.bad.values())} bad;"
        f" catalogue {made.catalogue}",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )


@demo_app.command("tokens")
def tokens_command(
    folder: Annotated[Path, typer.Argument(help="A folder `ledger demo generate` wrote.")],
    out: Annotated[Path, typer.Option("--out", help="Tokens file to write (mode 600).")],
    workspace_name: WorkspaceOption = "default",
) -> None:
    """Create a token for the operator, an auditor, each municipality and each vendor."""

    async def go():  # type: ignore[no-untyped-def]
        try:
            return await create_demo_tokens(await workspace(workspace_name), folder)
        except (OSError, ValueError, KeyError) as error:
            raise BadInput(f"{folder}: not a generated demo folder ({error})") from error

    made = run(go)
    write_tokens(out, made)
    console.print(f"{len(made)} tokens in {out}", markup=False, soft_wrap=True)


@demo_app.command("send")
def send(
    folder: Annotated[Path, typer.Argument(help="A folder `ledger demo generate` wrote.")],
    part: Annotated[
        str, typer.Option("--part", help="What to send: 2026-09, 2026-10 or 2026-10-late.")
    ],
    url: UrlOption,
    tokens: TokensOption,
    concurrent_requests: Annotated[
        int, typer.Option("--concurrent-requests", help="Requests in flight at once.")
    ] = concurrent_requests_default,
) -> None:
    """Post a part's events with each vendor's token, up to 10,000 per request."""
    known = _tokens(tokens)
    try:
        total = sum(f.events for f in files_of_part(folder, part))
    except DemoSendError as error:
        raise BadInput(str(error)) from error
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise BadInput(f"{folder}: not a generated demo folder ({error})") from error

    async def go():  # type: ignore[no-untyped-def]
        with progress_bar() as bar:
            task = bar.add_task(f"sending {part}", total=total)
            try:
                return await send_part(
                    folder,
                    url,
                    known,
                    part,
                    concurrent_requests=concurrent_requests,
                    progress=lambda n: bar.advance(task, n),
                )
            except DemoSendError as error:
                raise BadInput(str(error)) from error

    totals = run(go)
    reasons = ", ".join(f"{n} {code}" for code, n in sorted(totals.refused_by_reason.items()))
    console.print(
        f"sent {totals.events} events ({part}) in {totals.requests} requests"
        f" ({totals.retries} retried); refused at once: {totals.refused}"
        + (f" ({reasons})" if reasons else ""),
        markup=False,
        highlight=False,
        soft_wrap=True,
    )


@demo_app.command("settle")
def settle(
    period: Annotated[str, typer.Option("--period", help="Calendar month YYYY-MM (Oslo).")],
    url: UrlOption,
    tokens: TokensOption,
) -> None:
    """Settle a month through the API (waits for the worker to catch up first)."""
    period = _checked_period(period)
    admin = [token for (scope, _), token in _tokens(tokens).items() if scope == "admin"]
    if not admin:
        raise BadInput(f"{tokens}: no admin token")

    async def go():  # type: ignore[no-untyped-def]
        with progress_bar() as bar:
            bar.add_task(f"settling {period} (waiting for the worker)", total=None)
            try:
                return await settle_through_api(url, admin[0], period)
            except DemoSendError as error:
                raise BadInput(str(error)) from error

    answer = run(go)
    settlements = answer.get("settlements")
    count = len(settlements) if isinstance(settlements, list) else 0
    console.print(f"settled {period}: {count} settlements issued", markup=False, soft_wrap=True)


def _name(
    catalogue: Catalogue | None, municipality: str | None, vendor: str | None
) -> tuple[str, str]:
    if catalogue is None:
        return municipality or "(unknown)", vendor or "(none)"
    town = catalogue.municipality(municipality) if municipality else None
    seller = catalogue.vendor(vendor) if vendor else None
    town_name = f"{town.name} ({municipality})" if town else "(no known municipality)"
    vendor_name = seller.name if seller else f"{vendor} (not registered)" if vendor else "(none)"
    return town_name, vendor_name


def _cells(row: SummaryRow) -> list[str]:
    return [
        f"{row.events:,}".replace(",", " "),
        f"{row.accepted:,}".replace(",", " "),
        f"{row.duplicates:,}".replace(",", " "),
        f"{row.rejected:,}".replace(",", " "),
        f"{row.unlicensed:,}".replace(",", " "),
        f"kr {row.amount:,.2f}".replace(",", " ").replace(".", ","),
    ]


@demo_app.command("summary")
def summary(workspace_name: WorkspaceOption = "default") -> None:
    """Per municipality and vendor: events, accepted, duplicates, rejected, unlicensed, amount."""

    async def go():  # type: ignore[no-untyped-def]
        return await demo_summary(await workspace(workspace_name))

    rows, catalogue = run(go)
    table = Table(title="The partnership: what became of every event, and what was settled")
    table.add_column("municipality")
    table.add_column("vendor")
    for column in ("events", "accepted", "duplicates", "rejected", "unlicensed", "amount"):
        table.add_column(column, justify="right")
    for row in rows:
        table.add_row(*_name(catalogue, row.municipality, row.vendor), *_cells(row))
    table.add_section()
    table.add_row("total", "", *_cells(total_row(rows)), style="bold")
    console.print(table)
