"""Helpers shared by the command modules: running async use cases, workspaces, output."""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, TypeVar

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from infra.services import InfraError
from ledger.app.workspace import WorkspaceError, open_workspace, refused_login
from ledger.cli.app import BadInput, checked_workspace

if TYPE_CHECKING:
    from ledger.app.workspace import Workspace

T = TypeVar("T")

# Piped output (files, scripts, tests) gets wide tables rather than folded cells.
console = Console(width=None if sys.stdout.isatty() else 160)
error_console = Console(stderr=True, width=None if sys.stderr.isatty() else 160)


def report_line(text: str) -> None:
    """One finding on stderr as one line, verbatim: never folded, never read as markup."""
    error_console.print(text, markup=False, highlight=False, soft_wrap=True)


def run(coroutine_factory: Callable[[], Awaitable[T]]) -> T:
    """Run an async use case; user-caused failures become `BadInput` (exit 2)."""

    level = os.environ.get("LEDGER_LOG_LEVEL", "WARNING").upper()
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if level != "DEBUG":  # the stream libraries are chatty; DEBUG shows everything
        for noisy in ("aiokafka", "faust", "mode", "kafka"):
            logging.getLogger(noisy).setLevel(logging.ERROR)

    async def main() -> T:
        return await coroutine_factory()

    try:
        return asyncio.run(main())
    except (InfraError, WorkspaceError) as error:
        raise BadInput(str(error)) from error
    except Exception as error:
        refusal = refused_login(error)
        if refusal is None:
            raise
        raise BadInput(refusal) from error


async def workspace(name: str) -> Workspace:

    return await open_workspace(checked_workspace(name))


def progress_bar() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=error_console,
        transient=True,
        disable=not error_console.is_terminal,
    )
