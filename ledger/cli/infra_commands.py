"""`ledger infra up|down|status|browser`: the local Kafka broker and PostgreSQL server, and
the Chromium the browser tests drive."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from contextlib import contextmanager

import typer
from rich.console import Console

from infra.chromium import chromium_version, ensure_chromium
from infra.common import InfraError
from infra.services import (
    ServiceStatus,
    ensure_services,
    ledger_home,
    mask_password,
    services_status,
    stop_services,
)
from ledger.app.workspace import provision_workspace
from ledger.cli.app import BadInput, WorkspaceOption, app, checked_workspace

infra_app = typer.Typer(
    name="infra",
    help="Start, stop and inspect the local Kafka broker and PostgreSQL server.",
    no_args_is_help=True,
)
app.add_typer(infra_app, name="infra")

console = Console(highlight=False, soft_wrap=True)
error_console = Console(stderr=True, highlight=False, soft_wrap=True)


@contextmanager
def infra_errors() -> Iterator[None]:
    """An InfraError is the user's to fix (install a JDK, free a port): one line, exit 2."""
    try:
        yield
    except InfraError as error:
        raise BadInput(" ".join(str(error).split())) from error


class ProgressHandler(logging.Handler):
    """infra/'s progress notes (installing PostgreSQL, creating the cluster) on stderr."""

    def emit(self, record: logging.LogRecord) -> None:
        error_console.print(f"[dim]ledger: {record.getMessage()}[/dim]")


@contextmanager
def progress_on_stderr() -> Iterator[None]:
    logger = logging.getLogger("infra")
    handler = ProgressHandler(level=logging.INFO)
    previous_level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous_level)


@infra_app.command("up")
def up(workspace: WorkspaceOption = "default") -> None:
    """Start Kafka and PostgreSQL (installing them on first use) and print how to reach them.

    Services made before they were locked get their passwords and SASL users here (the broker
    restarts once); the passwords stay in the state folder's secrets/, never printed.
    """
    name = checked_workspace(workspace)
    with infra_errors(), progress_on_stderr():
        endpoints = ensure_services(ledger_home(), lock_running=True)
        database_url, topics = asyncio.run(provision_workspace(endpoints, name))
    console.print(f"kafka bootstrap:   [bold]{endpoints.kafka_bootstrap}[/bold]")
    console.print(f"postgres server:   [bold]{mask_password(endpoints.database_url)}[/bold]")
    console.print(f"workspace {name}:")
    console.print(f"  database url:    [bold]{mask_password(database_url)}[/bold]")
    console.print(f"  raw topic:       {topics.raw}")
    console.print(f"  rejected topic:  {topics.rejected}")
    if not endpoints.managed:
        console.print("(external services from LEDGER_KAFKA_BOOTSTRAP / LEDGER_DATABASE_URL)")


@infra_app.command("down")
def down(workspace: WorkspaceOption = "default") -> None:
    """Stop the Kafka broker and PostgreSQL server this state folder runs (data is kept)."""
    checked_workspace(workspace)
    with infra_errors():
        home = ledger_home()
        stopped = stop_services(home)
        status = services_status(home)
    for service in (status.kafka, status.postgres):
        if not service.managed:
            console.print(f"{service.name}: external, left running")
        elif service.name in stopped:
            console.print(f"{service.name}: stopped (pid {stopped[service.name]})")
        else:
            console.print(f"{service.name}: was not running")


def describe_state(service: ServiceStatus) -> str:
    if not service.managed:
        return "[green]running[/green] (external)" if service.running else "[red]unreachable[/red]"
    return "[green]running[/green]" if service.running else "[yellow]stopped[/yellow]"


@infra_app.command("status")
def status(workspace: WorkspaceOption = "default") -> None:
    """Tell whether Kafka and PostgreSQL are running, and where."""
    checked_workspace(workspace)
    with infra_errors():
        home = ledger_home()
        current = services_status(home)
    console.print(f"services of {home}:")
    for service in (current.kafka, current.postgres):
        pid = f" (pid {service.pid})" if service.pid is not None else ""
        console.print(
            f"  {service.name:<9} {describe_state(service)}  {service.address or '-'}{pid}"
        )


@infra_app.command("browser")
def browser() -> None:
    """Print the Chromium the browser tests drive, installing Debian's package when missing."""
    with infra_errors(), progress_on_stderr():
        path = ensure_chromium()
        version = chromium_version(path)
    error_console.print(f"[dim]{version}[/dim]")
    console.print(str(path))
