"""The shared typer app, common options and the error every user mistake becomes."""

from __future__ import annotations

from typing import Annotated

import typer

from ledger.domain.workspaces import workspace_name_pattern

app = typer.Typer(
    name="ledger",
    help="Pay-per-use ledger for digital learning materials.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


class BadInput(Exception):
    """A mistake the user can fix: printed as one line, exit code 2."""


WORKSPACE_NAME_PATTERN = workspace_name_pattern  # the domain owns it

WorkspaceOption = Annotated[
    str,
    typer.Option(
        "--workspace",
        envvar="LEDGER_WORKSPACE",
        help="Isolated ledger to work on (own database and topics).",
    ),
]


def checked_workspace(name: str) -> str:
    if not WORKSPACE_NAME_PATTERN.match(name):
        raise BadInput(
            f"workspace name {name!r} is not allowed: use lower-case letters, digits and _,"
            " starting with a letter, at most 40 characters"
        )
    return name
