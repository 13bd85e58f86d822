"""The `ledger` command line: one typer app, one module per group of commands."""

from __future__ import annotations

import sys

import typer
from typer._click import exceptions as click_exceptions

# Command modules register themselves on `app` when imported.
from ledger.cli import (
    audit_commands,  # verify, trace, replay, archive
    budget_commands,  # budget set|list
    demo_commands,  # demo generate|send|settle|summary
    ehf_commands,  # validate-ehf
    infra_commands,  # infra up|down|status
    serve_command,  # serve
    settle_commands,  # settle, usage, export
    status_command,  # status
    stream_commands,  # catalogue load, ingest, process, worker
    token_commands,  # tokens create|list|revoke
)
from ledger.cli.app import BadInput, app

__all__ = [
    "app",
    "audit_commands",
    "budget_commands",
    "demo_commands",
    "ehf_commands",
    "infra_commands",
    "main",
    "serve_command",
    "settle_commands",
    "status_command",
    "stream_commands",
    "token_commands",
]


def main() -> None:
    """Entry point: every user-caused error is one line on stderr and exit code 2."""
    try:
        # Without standalone mode typer returns a command's exit code instead of exiting.
        code = app(standalone_mode=False)
    except BadInput as error:
        print(f"ledger: {error}", file=sys.stderr)
        sys.exit(2)
    except typer.Abort:
        print("ledger: aborted", file=sys.stderr)
        sys.exit(130)
    except click_exceptions.NoArgsIsHelpError:
        sys.exit(2)  # the help text has been shown: a command is missing
    except click_exceptions.ClickException as error:
        print(f"ledger: {error.format_message()}", file=sys.stderr)
        sys.exit(2)
    except typer.Exit as exit_:
        sys.exit(exit_.exit_code)
    if isinstance(code, int) and code != 0:
        sys.exit(code)
