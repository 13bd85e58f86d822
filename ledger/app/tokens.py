"""Issuing, listing and revoking API tokens, and checking the one a request carries."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncEngine

from ledger.app.workspace import Workspace, ledger_connection
from ledger.domain.tokens import (
    Principal,
    Scope,
    TokenRecord,
    checked_subject,
    format_token,
    parse_token,
    secret_bytes,
    secret_digest,
    secret_matches,
    token_id_hex_characters,
)
from ledger.store.engine import create_ledger_engine
from ledger.store.tokens import insert_token, list_tokens, revoke_token, token_by_id

expires_in_days_max = 3650  # ten years: a longer-lived credential is a forgotten one


class TokenError(Exception):
    """A token cannot be issued or revoked as asked: one line for the operator."""


@dataclass(frozen=True)
class IssuedToken:
    record: TokenRecord
    token: str  # shown once, never stored


def new_token(
    scope: Scope, subject: str, *, expires_in_days: int | None, now: datetime
) -> IssuedToken:
    if expires_in_days is not None and not 1 <= expires_in_days <= expires_in_days_max:
        raise TokenError(f"--expires-in must be between 1 and {expires_in_days_max} days")
    token_id = secrets.token_hex(token_id_hex_characters // 2)
    secret = secrets.token_urlsafe(secret_bytes)
    record = TokenRecord(
        token_id=token_id,
        scope=scope,
        subject=checked_subject(scope, subject),
        secret_sha256=secret_digest(secret),
        created_at=now,
        expires_at=now + timedelta(days=expires_in_days) if expires_in_days else None,
        revoked_at=None,
    )
    return IssuedToken(record, format_token(token_id, secret))


async def create_token(
    ws: Workspace, scope: Scope, subject: str, *, expires_in_days: int | None = None
) -> IssuedToken:
    issued = new_token(scope, subject, expires_in_days=expires_in_days, now=datetime.now(UTC))
    engine = create_ledger_engine(ws.database_url)
    try:
        async with engine.begin() as conn:
            await insert_token(conn, issued.record)
    finally:
        await engine.dispose()
    return issued


async def workspace_tokens(ws: Workspace) -> list[TokenRecord]:
    async with ledger_connection(ws) as conn:
        return await list_tokens(conn)


async def revoke(ws: Workspace, token_id: str) -> None:
    engine = create_ledger_engine(ws.database_url)
    try:
        async with engine.begin() as conn:
            if not await revoke_token(conn, token_id, datetime.now(UTC)):
                raise TokenError(f"no token with id {token_id!r}")
    finally:
        await engine.dispose()


async def authenticate(engine: AsyncEngine, token: str, now: datetime) -> Principal | None:
    """The principal of a valid token; None for anything else (the caller answers 401)."""
    parsed = parse_token(token)
    if parsed is None:
        return None
    token_id, secret = parsed
    async with engine.connect() as conn:
        record = await token_by_id(conn, token_id)
    if record is None or not secret_matches(secret, record.secret_sha256):
        return None
    return record.principal_at(now)
