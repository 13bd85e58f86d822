"""The migration: idempotent, concurrent-safe, and the tables ledger/store/schema.py describes."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import Table, UniqueConstraint, inspect, text
from sqlalchemy.engine import Connection

from ledger.store.engine import create_ledger_engine, create_owner_engine, writer_role
from ledger.store.migrate import migrate
from ledger.store.schema import ledger_tables, metadata
from tests.store import superuser

pytestmark = pytest.mark.integration


async def test_migrate_twice_and_concurrently_reaches_head_once(fresh_database_url: str) -> None:
    await asyncio.gather(*(migrate(fresh_database_url) for _ in range(3)))
    await migrate(fresh_database_url)
    async with superuser(fresh_database_url) as connection:
        versions = await connection.fetch("SELECT version_num FROM ledger.alembic_version")
        tables = await connection.fetch(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'ledger' ORDER BY tablename"
        )
    assert [row["version_num"] for row in versions] == ["0005"]
    assert [row["tablename"] for row in tables] == sorted(
        ["alembic_version", *(table.name for table in ledger_tables)]
    )


# How PostgreSQL reflects each type of ledger/store/schema.py.
REFLECTED_TYPE_NAMES = {
    "Text": "TEXT",
    "Integer": "INTEGER",
    "BigInteger": "BIGINT",
    "DateTime": "TIMESTAMP",
    "LargeBinary": "BYTEA",
    "Boolean": "BOOLEAN",
}


def describe_columns(table: Table) -> list[tuple[str, str, bool]]:
    return [
        (column.name, REFLECTED_TYPE_NAMES[type(column.type).__name__], bool(column.nullable))
        for column in table.columns
    ]


def reflect(sync: Connection) -> dict[str, tuple[list[tuple[str, str, bool]], list[str], set[str]]]:
    inspector = inspect(sync)
    reflected = {}
    for table in ledger_tables:
        columns = [
            (column["name"], type(column["type"]).__name__, bool(column["nullable"]))
            for column in inspector.get_columns(table.name, schema="ledger")
        ]
        primary_key = inspector.get_pk_constraint(table.name, schema="ledger")
        names = {index["name"] for index in inspector.get_indexes(table.name, schema="ledger")}
        names |= {
            constraint["name"]
            for constraint in inspector.get_unique_constraints(table.name, schema="ledger")
        }
        reflected[table.name] = (
            columns,
            list(primary_key["constrained_columns"]),
            {name for name in names if name is not None},
        )
    return reflected


async def test_tables_match_the_sqlalchemy_schema(fresh_database_url: str) -> None:
    await migrate(fresh_database_url)
    engine = create_owner_engine(fresh_database_url)
    try:
        async with engine.connect() as connection:
            reflected = await connection.run_sync(reflect)
    finally:
        await engine.dispose()
    for table in ledger_tables:
        columns, primary_key, indexes = reflected[table.name]
        assert columns == describe_columns(table), table.name
        assert primary_key == [column.name for column in table.primary_key.columns], table.name
        declared = {index.name for index in table.indexes} | {
            constraint.name
            for constraint in table.constraints
            if isinstance(constraint, UniqueConstraint)
        }
        assert declared <= indexes, table.name
    assert metadata.schema == "ledger"


async def test_writer_role_may_only_select_and_insert(fresh_database_url: str) -> None:
    await migrate(fresh_database_url)
    async with superuser(fresh_database_url) as connection:
        role = await connection.fetchrow(
            "SELECT rolcanlogin, rolsuper FROM pg_roles WHERE rolname = $1", writer_role
        )
        assert role is not None and not role["rolcanlogin"] and not role["rolsuper"]
        for table in ledger_tables:
            name = f"ledger.{table.name}"
            privileges = {
                privilege: await connection.fetchval(
                    "SELECT has_table_privilege($1, $2, $3)", writer_role, name, privilege
                )
                for privilege in ("SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "TRIGGER")
            }
            assert privileges == {
                "SELECT": True, "INSERT": True, "UPDATE": False, "DELETE": False,
                "TRUNCATE": False, "TRIGGER": False,
            }, name  # fmt: skip
        assert (
            await connection.fetchval(
                "SELECT has_schema_privilege($1, 'ledger', 'CREATE')", writer_role
            )
            is False
        )


async def test_ledger_engine_sessions_run_as_the_writer_role(fresh_database_url: str) -> None:
    await migrate(fresh_database_url)
    engine = create_ledger_engine(fresh_database_url)
    try:
        async with engine.connect() as connection:
            assert await connection.scalar(text("SELECT current_user")) == writer_role
            # RESET goes back to the session default, which is the writer role too.
            await connection.execute(text("RESET ROLE"))
            assert await connection.scalar(text("SELECT current_user")) == writer_role
        assert engine.pool.size() == 5  # type: ignore[attr-defined]
    finally:
        await engine.dispose()
