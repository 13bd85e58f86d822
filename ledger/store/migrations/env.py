"""Alembic environment of the ledger schema.

`ledger.store.migrate.migrate` passes its own connection (in `config.attributes`),
already inside a transaction that holds the migration advisory lock; Alembic then runs
the migrations in that transaction and the caller commits. Run by hand, the URL comes
from LEDGER_MIGRATION_URL (see alembic.ini).
"""

from __future__ import annotations

import asyncio
import os

from alembic import context
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

# The version table lives beside the ledger tables, so a workspace is one schema.
version_table_schema = "ledger"


def run_migrations(connection: Connection) -> None:
    connection.execute(text(f"CREATE SCHEMA IF NOT EXISTS {version_table_schema}"))
    context.configure(
        connection=connection,
        target_metadata=None,
        version_table_schema=version_table_schema,
        transactional_ddl=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def run_migrations_by_hand(database_url: str) -> None:
    engine = create_async_engine(database_url, poolclass=NullPool)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(run_migrations)
    finally:
        await engine.dispose()


def main() -> None:
    if context.is_offline_mode():
        raise SystemExit("offline (--sql) migrations are not supported for the ledger schema")
    connection = context.config.attributes.get("connection")
    if connection is not None:
        run_migrations(connection)
        return
    database_url = os.environ.get("LEDGER_MIGRATION_URL")
    if not database_url:
        raise SystemExit("set LEDGER_MIGRATION_URL to the workspace database's SQLAlchemy URL")
    asyncio.run(run_migrations_by_hand(database_url))


main()
