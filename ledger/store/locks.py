"""PostgreSQL advisory lock keys of the ledger, in one place so they never collide.

Keys are the two-int form `pg_advisory_xact_lock(class, object)`, whose key space is
separate from the one-bigint form other code may use.
"""

from __future__ import annotations

chain_lock_class = 0x4C45_4443  # "LEDC": object = chain; held by each append batch
migration_lock_class = 0x4C45_444D  # "LEDM": object = 0; held while migrating
# One-bigint form ("LEDG"), session-level: serialises the check-then-CREATE DATABASE of
# parallel processes (two `ledger` commands opening one new workspace at once).
create_database_lock_key = 0x4C454447
