"""Bring a workspace database's ledger schema to the newest revision (Alembic `head`)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import text
from sqlalchemy.engine import Connection

from ledger.store.engine import create_owner_engine
from ledger.store.locks import migration_lock_class

migrations_directory = Path(__file__).resolve().parent / "migrations"


def alembic_config() -> Config:
    """Alembic configuration built in code: no ini file needs to be found at run time."""
    config = Config()
    config.set_main_option("script_location", str(migrations_directory))
    config.set_main_option("version_locations", str(migrations_directory / "versions"))
    config.set_main_option("path_separator", "os")
    return config


def _upgrade_to_head(connection: Connection) -> None:
    config = alembic_config()
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


async def migrate(database_url: str) -> None:
    """Upgrade the ledger schema of `database_url` to head; a no-op when already there.

    Runs as the URL's user, who becomes the owner of the schema. Safe when several
    processes call it at once: the whole upgrade is one transaction that first takes a
    transaction-level advisory lock, so the others wait, then find the schema at head.
    The cluster-wide role `ledger_writer` is created when missing (race-safe across
    databases: see the first revision).
    """
    engine = create_owner_engine(database_url)
    try:
        async with engine.begin() as connection:
            await connection.execute(
                text("SELECT pg_advisory_xact_lock(:lock_class, 0)"),
                {"lock_class": migration_lock_class},
            )
            await connection.run_sync(_upgrade_to_head)
    finally:
        await engine.dispose()
