"""`ledger tokens create|list|revoke`: the bearer tokens of the HTTP API."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from ledger.app.tokens import TokenError, create_token, revoke, workspace_tokens
from ledger.cli.app import BadInput, WorkspaceOption, app
from ledger.cli.common import console, run, workspace
from ledger.domain.tokens import Scope, TokenSubjectError, checked_subject

tokens_app = typer.Typer(help="Bearer tokens for the HTTP API (shown once, stored as hashes).")
app.add_typer(tokens_app, name="tokens")


def _scope_and_subject(
    vendor: str | None, municipality: str | None, auditor: str | None, admin: str | None
) -> tuple[Scope, str]:
    options: tuple[tuple[Scope, str | None], ...] = (
        ("vendor", vendor),
        ("municipality", municipality),
        ("auditor", auditor),
        ("admin", admin),
    )
    given = [(scope, subject) for scope, subject in options if subject is not None]
    if len(given) != 1:
        raise BadInput("give exactly one of --vendor, --municipality, --auditor, --admin")
    scope, subject = given[0]
    try:
        return scope, checked_subject(scope, subject)
    except TokenSubjectError as error:
        raise BadInput(str(error)) from error


@tokens_app.command("create")
def tokens_create(
    vendor: Annotated[
        str | None, typer.Option(help="Vendor organisation number: sends usage, reads its own.")
    ] = None,
    municipality: Annotated[
        str | None, typer.Option(help="Kommunenummer: reads its settlements and usage.")
    ] = None,
    auditor: Annotated[
        str | None, typer.Option(help="Auditor's name: reads the whole ledger, changes nothing.")
    ] = None,
    admin: Annotated[
        bool, typer.Option("--admin", help="Operator: loads catalogues and settles periods.")
    ] = False,
    name: Annotated[
        str, typer.Option("--name", help="Who holds an --admin token (for the token list).")
    ] = "admin",
    expires_in: Annotated[
        int | None, typer.Option("--expires-in", help="Days until the token stops working.")
    ] = None,
    workspace_name: WorkspaceOption = "default",
) -> None:
    """Issue a token. It is printed once, on the last line; only its hash is kept."""
    scope, subject = _scope_and_subject(vendor, municipality, auditor, name if admin else None)

    async def go():  # type: ignore[no-untyped-def]
        return await create_token(
            await workspace(workspace_name), scope, subject, expires_in_days=expires_in
        )

    try:
        issued = run(go)
    except TokenError as error:
        raise BadInput(str(error)) from error
    record = issued.record
    expiry = record.expires_at.isoformat(timespec="seconds") if record.expires_at else "never"
    console.print(
        f"token {record.token_id} for {record.scope} {record.subject} (expires {expiry});"
        " it is shown only now:",
        markup=False,
        highlight=False,
    )
    print(issued.token)


@tokens_app.command("list")
def tokens_list(workspace_name: WorkspaceOption = "default") -> None:
    """Every token issued (never the secrets), newest first."""

    async def go():  # type: ignore[no-untyped-def]
        return await workspace_tokens(await workspace(workspace_name))

    table = Table("id", "scope", "subject", "created", "expires", "revoked")
    for record in run(go):
        table.add_row(
            record.token_id,
            record.scope,
            record.subject,
            record.created_at.isoformat(timespec="seconds"),
            record.expires_at.isoformat(timespec="seconds") if record.expires_at else "",
            record.revoked_at.isoformat(timespec="seconds") if record.revoked_at else "",
        )
    console.print(table)


@tokens_app.command("revoke")
def tokens_revoke(
    token_id: Annotated[str, typer.Argument(help="The token's id, from `ledger tokens list`.")],
    workspace_name: WorkspaceOption = "default",
) -> None:
    """Stop a token from working (recorded, never deleted)."""

    async def go() -> None:
        await revoke(await workspace(workspace_name), token_id)

    try:
        run(go)
    except TokenError as error:
        raise BadInput(str(error)) from error
    console.print(f"token {token_id} revoked", markup=False, highlight=False)
