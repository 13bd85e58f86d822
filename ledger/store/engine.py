"""Engines for the ledger database: the application's (role `ledger_writer`) and the owner's.

The application never writes as the database owner: every connection of
`create_ledger_engine` runs as `ledger_writer`, which may only SELECT and INSERT, so a
bug (or an injected statement) cannot UPDATE or DELETE ledger rows even before the
immutability triggers refuse it. The role is set in the connection's startup
parameters (asyncpg `server_settings`), which makes it the session default: a
`RESET ROLE` or `RESET ALL` goes back to `ledger_writer`, not to the login user.
`ledger.store.migrate.migrate` must have run once on the cluster (it creates the role).

On the cluster `ledger infra up` runs, the URL's user differs by use: `ledger_app` (a member of
`ledger_writer` and nothing more) for this engine, `ledger_owner` for the owner's engine and
the migrations; infra/postgres.py creates both, with passwords, before any migration runs.
"""

from __future__ import annotations

import asyncpg
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

writer_role = "ledger_writer"
application_name = "ledger"

pool_connections_max = 5  # kept open per process
pool_overflow_connections_max = 5  # opened on demand beyond that, closed when returned
pool_checkout_timeout_s = 30  # wait for a free connection at most this long, then fail
pool_recycle_s = 3600  # replace connections older than this (server restarts, leaks)


def sqlalchemy_url(database_url: str) -> str:
    """`database_url` with the asyncpg driver: `postgresql://…` becomes `postgresql+asyncpg://…`."""
    url = make_url(database_url)
    if url.drivername in ("postgresql", "postgres"):
        url = url.set(drivername="postgresql+asyncpg")
    if url.drivername != "postgresql+asyncpg":
        raise ValueError(
            f"database URL driver {url.drivername!r} is not supported: use postgresql+asyncpg://"
        )
    return url.render_as_string(hide_password=False)


def asyncpg_dsn(database_url: str) -> str:
    """The same database as a plain libpq-style DSN for `asyncpg.connect`."""
    url = make_url(sqlalchemy_url(database_url)).set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


def create_ledger_engine(database_url: str) -> AsyncEngine:
    """The application's engine: a bounded pool whose sessions run as `ledger_writer`."""
    return create_async_engine(
        sqlalchemy_url(database_url),
        pool_size=pool_connections_max,
        max_overflow=pool_overflow_connections_max,
        pool_timeout=pool_checkout_timeout_s,
        pool_recycle=pool_recycle_s,
        pool_pre_ping=True,
        connect_args={
            "server_settings": {"role": writer_role, "application_name": application_name}
        },
    )


def create_owner_engine(database_url: str) -> AsyncEngine:
    """An engine that connects as the URL's own user (the schema owner): migrations, admin.

    No pool: the owner's connections are rare and short, and should not linger.
    """
    return create_async_engine(
        sqlalchemy_url(database_url),
        poolclass=NullPool,
        connect_args={"server_settings": {"application_name": f"{application_name}-owner"}},
    )


def causes(error: BaseException) -> list[BaseException]:
    """`error` and what it wraps (`__cause__`, `__context__`, SQLAlchemy's `orig`), bounded."""
    chain: list[BaseException] = []
    current: BaseException | None = error
    while current is not None and current not in chain and len(chain) < 16:
        chain.append(current)
        wrapped = getattr(current, "orig", None)
        current = (
            wrapped
            if isinstance(wrapped, BaseException)
            else current.__cause__ or current.__context__
        )
    return chain


def database_login_refusal(error: BaseException) -> str | None:
    """One line when `error` is PostgreSQL refusing the login (a wrong or missing password)."""
    for cause in causes(error):
        if isinstance(
            cause,
            asyncpg.InvalidPasswordError | asyncpg.InvalidAuthorizationSpecificationError,
        ):
            reason = str(cause).splitlines()[0] if str(cause) else type(cause).__name__
            return (
                f"PostgreSQL refused the login ({reason}): check the password in"
                " LEDGER_DATABASE_URL or PGPASSFILE"
            )
    return None
