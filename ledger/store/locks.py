"""PostgreSQL advisory lock keys of the ledger, in one place so they never collide.

Two key spaces: the two-int form `pg_advisory_xact_lock(class, object)` and the
one-bigint form `pg_advisory_lock(key)`. PostgreSQL keeps them apart, so a class here
never collides with a bigint key, and the "LED…" prefixes keep ours apart from other
code's. Beside each key: why the ordering it enforces exists.
"""

from __future__ import annotations

from typing import Final

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from ledger.domain.invariants import invariant

# "LEDC", object = chain; held by each append batch until it commits. Why: seq is taken
# from the head the transaction reads, so seq order must equal commit order; otherwise
# a reader following seq (the worker, verify, a replay) could pass a seq whose row
# commits later and never see it.
chain_lock_class: Final = 0x4C45_4443

# "LEDM", object = 0; held while migrating. Why: two processes opening one new
# workspace at once would both run the same DDL, and the loser fails half-way.
migration_lock_class: Final = 0x4C45_444D

# One-bigint form ("LEDG"), session-level: serialises the check-then-CREATE DATABASE of
# parallel processes (two `ledger` commands opening one new workspace at once); without
# it both see "no database" and the second CREATE fails.
create_database_lock_key: Final = 0x4C45_4447

# One-bigint form ('LEDGER' + 1), held by `ledger catalogue load` until it commits. Why:
# the next version number is read (max + 1) before it is inserted, so two loads at once
# would take the same number; serialised, versions follow load order without a gap.
catalogue_load_lock_key: Final = 0x4C45_4447_4552_0001


async def lock_catalogue_loads(conn: AsyncConnection) -> None:
    """Hold the catalogue-load lock until the caller's transaction ends."""
    invariant(conn.in_transaction(), "the catalogue-load lock needs an open transaction")
    await conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": catalogue_load_lock_key})
