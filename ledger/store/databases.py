"""Databases on the server: one per workspace (`ledger_<ws>`), scratch ones for tests.

CREATE and DROP DATABASE run on the server's maintenance database, outside a transaction.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Final

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine
from sqlalchemy.pool import NullPool

from ledger.domain.workspaces import workspace_database_name
from ledger.store.locks import create_database_lock_key

log = logging.getLogger(__name__)

scratch_database_prefix: Final = "scratch_"
protected_databases: Final = frozenset({"postgres", "template0", "template1"})


class DatabaseError(Exception):
    """A database cannot be created or dropped as asked."""


def database_url_for(server_url: str, database: str) -> str:
    url: str = make_url(server_url).set(database=database).render_as_string(hide_password=False)
    return url


def workspace_database_url(server_url: str, workspace: str) -> str:
    return database_url_for(server_url, workspace_database_name(workspace))


def quote_identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


@asynccontextmanager
async def maintenance_connection(server_url: str) -> AsyncIterator[AsyncConnection]:
    """Autocommit: CREATE/DROP DATABASE cannot run inside a transaction."""
    engine = create_async_engine(server_url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    try:
        async with engine.connect() as connection:
            yield connection
    finally:
        await engine.dispose()


async def create_database(server_url: str, database: str) -> bool:
    """CREATE DATABASE unless it exists; True when this call created it.

    Race-safe: a session advisory lock serialises the check and the create across processes.
    """
    async with maintenance_connection(server_url) as connection:
        await connection.execute(
            text("SELECT pg_advisory_lock(:key)"), {"key": create_database_lock_key}
        )
        try:
            exists = await connection.scalar(
                text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": database}
            )
            if exists:
                return False
            await connection.execute(text(f"CREATE DATABASE {quote_identifier(database)}"))
            return True
        finally:
            await connection.execute(
                text("SELECT pg_advisory_unlock(:key)"), {"key": create_database_lock_key}
            )


async def ensure_workspace_database(server_url: str, workspace: str) -> str:
    """The workspace's database, created when missing; its SQLAlchemy URL."""
    database = workspace_database_name(workspace)
    if await create_database(server_url, database):
        log.info("created database %s", database)
    return database_url_for(server_url, database)


async def create_scratch_database(server_url: str) -> str:
    """A new empty database with a unique name (for tests); its SQLAlchemy URL."""
    database = f"{scratch_database_prefix}{uuid.uuid4().hex[:16]}"
    await create_database(server_url, database)
    return database_url_for(server_url, database)


async def drop_database(server_url: str, url: str) -> None:
    """DROP DATABASE … WITH (FORCE): also when sessions are still connected to it."""
    database = make_url(url).database
    if not database or database in protected_databases:
        raise DatabaseError(f"refusing to drop database {database!r}")
    async with maintenance_connection(server_url) as connection:
        await connection.execute(
            text(f"DROP DATABASE IF EXISTS {quote_identifier(database)} WITH (FORCE)")
        )


async def database_exists(server_url: str, database: str) -> bool:
    async with maintenance_connection(server_url) as connection:
        found = await connection.scalar(
            text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": database}
        )
        return bool(found)
