"""Every ledger table refuses UPDATE, DELETE and TRUNCATE, for every role, in the database."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from ledger.store.append import append_entries
from ledger.store.engine import create_ledger_engine
from ledger.store.migrate import migrate
from ledger.store.schema import ledger_tables
from tests.store import event_drafts, superuser

pytestmark = pytest.mark.integration

TABLE_NAMES = [table.name for table in ledger_tables]

# One row per table, inserted by the owner, so every statement has something to hit.
SEED = """
INSERT INTO ledger.catalogue_versions VALUES (1, 'abc', '{}', now());
INSERT INTO ledger.closings VALUES ('c-1', '2026-10', now(), 1, '[]');
INSERT INTO ledger.settlements VALUES
    ('2026-10', '3201', '987654325', 'c-1', '{}', 'sha256:' || repeat('0', 64));
INSERT INTO ledger.settlement_lines VALUES
    ('2026-10', '3201', '987654325', 1, 'L-1', '2026-10', 1, 100, false);
INSERT INTO ledger.api_tokens VALUES
    ('0123456789ab', 'auditor', 'Revisor', sha256('x'), now(), NULL);
INSERT INTO ledger.api_token_revocations VALUES ('0123456789ab', now());
INSERT INTO ledger.budgets (municipality, licence, from_period, standing, amount_ore, set_at)
    VALUES ('3201', 'L-1', '2026-10', false, 100, now());
"""

CHANGES = {
    "entries": ("UPDATE ledger.entries SET quantity = 2", "DELETE FROM ledger.entries"),
    "catalogue_versions": (
        "UPDATE ledger.catalogue_versions SET document = '[]'",
        "DELETE FROM ledger.catalogue_versions",
    ),
    "closings": ("UPDATE ledger.closings SET heads = '{}'", "DELETE FROM ledger.closings"),
    "settlements": (
        "UPDATE ledger.settlements SET document = '[]'",
        "DELETE FROM ledger.settlements",
    ),
    "settlement_lines": (
        "UPDATE ledger.settlement_lines SET amount_ore = 1",
        "DELETE FROM ledger.settlement_lines",
    ),
    "api_tokens": (
        "UPDATE ledger.api_tokens SET scope = 'admin'",
        "DELETE FROM ledger.api_tokens",
    ),
    "api_token_revocations": (
        "UPDATE ledger.api_token_revocations SET revoked_at = now()",
        "DELETE FROM ledger.api_token_revocations",
    ),
    "budgets": ("UPDATE ledger.budgets SET amount_ore = 1", "DELETE FROM ledger.budgets"),
}


@pytest.fixture
async def seeded_url(fresh_database_url: str) -> AsyncIterator[str]:
    await migrate(fresh_database_url)
    engine = create_ledger_engine(fresh_database_url)
    try:
        async with engine.begin() as connection:
            await append_entries(connection, 0, event_drafts(0, 3))
    finally:
        await engine.dispose()
    async with superuser(fresh_database_url) as connection:
        await connection.execute(SEED)
    yield fresh_database_url


def statements(table: str) -> list[str]:
    update, delete = CHANGES[table]
    return [update, delete, f"TRUNCATE ledger.{table} CASCADE"]


async def row_count(connection: asyncpg.Connection, table: str) -> int:
    count: int = await connection.fetchval(f"SELECT count(*) FROM ledger.{table}")
    return count


@pytest.mark.parametrize("table", TABLE_NAMES)
async def test_superuser_cannot_change_rows(seeded_url: str, table: str) -> None:
    async with superuser(seeded_url) as connection:
        assert await connection.fetchval(
            "SELECT rolsuper FROM pg_roles WHERE rolname = current_user"
        )
        before = await row_count(connection, table)
        for statement in statements(table):
            with pytest.raises(asyncpg.InsufficientPrivilegeError, match="append-only"):
                await connection.execute(statement)
        assert await row_count(connection, table) == before > 0


@pytest.mark.parametrize("table", TABLE_NAMES)
async def test_replica_mode_does_not_skip_the_triggers(seeded_url: str, table: str) -> None:
    # Triggers enabled ORIGIN (the default) do not fire under session_replication_role =
    # replica; the ledger's are ENABLE ALWAYS.
    async with superuser(seeded_url) as connection:
        await connection.execute("SET session_replication_role = replica")
        for statement in statements(table):
            with pytest.raises(asyncpg.InsufficientPrivilegeError, match="append-only"):
                await connection.execute(statement)


async def test_update_touching_no_row_is_refused_too(seeded_url: str) -> None:
    async with superuser(seeded_url) as connection:
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="append-only"):
            await connection.execute("DELETE FROM ledger.entries WHERE false")


async def test_upsert_is_refused(seeded_url: str) -> None:
    async with superuser(seeded_url) as connection:
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="append-only"):
            await connection.execute(
                "INSERT INTO ledger.catalogue_versions VALUES (1, 'abc', '{}', now())"
                " ON CONFLICT (version) DO UPDATE SET document = '[]'"
            )


@pytest.mark.parametrize("table", TABLE_NAMES)
async def test_writer_cannot_change_rows_even_with_triggers_disabled(
    seeded_url: str, table: str
) -> None:
    async with superuser(seeded_url) as connection:
        await connection.execute(f"ALTER TABLE ledger.{table} DISABLE TRIGGER ALL")
    engine = create_ledger_engine(seeded_url)
    try:
        for statement in statements(table):
            async with engine.connect() as connection:
                with pytest.raises(DBAPIError, match="permission denied"):
                    await connection.execute(text(statement))
    finally:
        await engine.dispose()
    async with superuser(seeded_url) as connection:
        assert await row_count(connection, table) > 0
