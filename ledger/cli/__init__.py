"""The `ledger` command line: one typer app, one module per group of commands."""

from __future__ import annotations

import sys

import click
import typer

from ledger.cli.app import BadInput, app

# Command modules register themselves on `app` when imported.
from ledger.cli import infra_commands  # noqa: E402,F401  (ledger infra up|down|status)

__all__ = ["app", "main"]


def main() -> None:
    """Entry point: every user-caused error is one line on stderr and exit code 2."""
    try:
        app(standalone_mode=False)
    except BadInput as error:
        print(f"ledger: {error}", file=sys.stderr)
        sys.exit(2)
    except click.exceptions.Abort:
        print("ledger: aborted", file=sys.stderr)
        sys.exit(130)
    except click.ClickException as error:
        print(f"ledger: {error.format_message()}", file=sys.stderr)
        sys.exit(2)
    except typer.Exit as exit_:
        sys.exit(exit_.exit_code)
