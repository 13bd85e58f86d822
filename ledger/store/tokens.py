"""API tokens in the database: issue, revoke (a row of its own), look up, list."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Row, Select, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from ledger.domain.invariants import invariant
from ledger.domain.tokens import SCOPES, Scope, TokenRecord
from ledger.store.schema import api_token_revocations, api_tokens

tokens_listed_max = 10_000  # `ledger tokens list` shows at most this many, newest first


def _record(row: Row[Any]) -> TokenRecord:
    token_id, scope, subject, secret_sha256, created_at, expires_at, revoked_at = tuple(row)
    invariant(scope in SCOPES, f"token {token_id} has an unknown scope {scope!r}")
    checked_scope: Scope = scope
    return TokenRecord(
        token_id, checked_scope, subject, bytes(secret_sha256), created_at, expires_at, revoked_at
    )


def _token_query() -> Select[Any]:
    return select(
        api_tokens.c.token_id,
        api_tokens.c.scope,
        api_tokens.c.subject,
        api_tokens.c.secret_sha256,
        api_tokens.c.created_at,
        api_tokens.c.expires_at,
        api_token_revocations.c.revoked_at,
    ).select_from(
        api_tokens.outerjoin(
            api_token_revocations, api_token_revocations.c.token_id == api_tokens.c.token_id
        )
    )


async def insert_token(conn: AsyncConnection, record: TokenRecord) -> None:
    await conn.execute(
        api_tokens.insert().values(
            token_id=record.token_id,
            scope=record.scope,
            subject=record.subject,
            secret_sha256=record.secret_sha256,
            created_at=record.created_at,
            expires_at=record.expires_at,
        )
    )


async def revoke_token(conn: AsyncConnection, token_id: str, at: datetime) -> bool:
    """True when the token exists (revoking twice keeps the first time)."""
    exists = await conn.scalar(
        select(api_tokens.c.token_id).where(api_tokens.c.token_id == token_id)
    )
    if exists is None:
        return False
    await conn.execute(
        insert(api_token_revocations)
        .values(token_id=token_id, revoked_at=at)
        .on_conflict_do_nothing(index_elements=["token_id"])
    )
    return True


async def token_by_id(conn: AsyncConnection, token_id: str) -> TokenRecord | None:
    row = (await conn.execute(_token_query().where(api_tokens.c.token_id == token_id))).first()
    return _record(row) if row is not None else None


async def list_tokens(conn: AsyncConnection) -> list[TokenRecord]:
    query = _token_query().order_by(api_tokens.c.created_at.desc()).limit(tokens_listed_max)
    return [_record(row) for row in await conn.execute(query)]
