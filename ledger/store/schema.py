"""SQLAlchemy Core tables of the ledger (schema `ledger`): what code queries against.

The database is created by the Alembic migrations in `ledger/store/migrations/`,
which are the source of truth (constraints, triggers, grants, the `entry_bytes`
function); these `Table` objects mirror them for building queries, and
`tests/store/test_schema.py` checks the two agree.

Every table here is append-only: triggers refuse UPDATE, DELETE and TRUNCATE for
every role, and the application role `ledger_writer` only has SELECT and INSERT.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    ForeignKeyConstraint,
    Identity,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    Table,
    Text,
    UniqueConstraint,
    func,
)

ledger_schema = "ledger"
metadata = MetaData(schema=ledger_schema)

# One hash chain per raw-topic partition; see docs/ARCHITECTURE.md and ledger/domain/chain.py.
entries = Table(
    "entries",
    metadata,
    Column("chain", Integer, nullable=False),
    Column("seq", BigInteger, nullable=False),
    Column("kind", Text, nullable=False),
    Column("status", Text, nullable=True),
    Column("source_topic", Text, nullable=False),
    Column("source_offset", BigInteger, nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("vendor", Text, nullable=True),
    Column("event_id", Text, nullable=True),
    Column("product", Text, nullable=True),
    Column("school", Text, nullable=True),
    Column("municipality", Text, nullable=True),
    Column("learner_hash", LargeBinary, nullable=True),
    Column("role", Text, nullable=True),
    Column("action", Text, nullable=True),
    Column("item", Text, nullable=True),
    Column("unit", Text, nullable=True),
    Column("quantity", BigInteger, nullable=True),
    Column("occurred_at", DateTime(timezone=True), nullable=True),
    Column("period", Text, nullable=True),
    Column("licence_id", Text, nullable=True),
    Column("catalogue_version", Integer, nullable=True),
    Column("content_digest", LargeBinary, nullable=True),
    Column("reason_code", Text, nullable=True),
    Column("reason_detail", Text, nullable=True),
    Column("reference", Text, nullable=True),
    Column("prev_hash", LargeBinary, nullable=False),
    Column("hash", LargeBinary, nullable=False),
    PrimaryKeyConstraint("chain", "seq", name="entries_pkey"),
    UniqueConstraint("source_topic", "chain", "source_offset", name="entries_source_key"),
    Index(
        "entries_accepted_event_key",
        "vendor",
        "event_id",
        unique=True,
        postgresql_where="status = 'accepted'",
    ),
    # Settlement queries: accepted usage of one period, by licence (NULL = unlicensed).
    Index(
        "entries_accepted_period_licence",
        "period",
        "licence_id",
        postgresql_where="status = 'accepted'",
    ),
    # Markers of one partition (catalogue versions and closes in effect).
    Index("entries_chain_kind", "chain", "kind"),
    # A vendor's rejection feed, paged by position (revision 0003).
    Index(
        "entries_rejected_vendor",
        "vendor",
        "chain",
        "seq",
        postgresql_where="status = 'rejected'",
    ),
)

# The vendor page's per-day counts (revision 0005): index-only by vendor and time of use.
Index(
    "entries_vendor_day_of_use",
    entries.c.vendor,
    func.coalesce(entries.c.occurred_at, entries.c.received_at),
    postgresql_include=["status", "licence_id", "reason_code", "occurred_at", "received_at"],
    postgresql_where=entries.c.kind == "event",
)

catalogue_versions = Table(
    "catalogue_versions",
    metadata,
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("sha256", Text, nullable=False),
    Column("document", Text, nullable=False),
    Column("loaded_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("sha256", name="catalogue_versions_sha256_key"),
)

closings = Table(
    "closings",
    metadata,
    Column("close_id", Text, primary_key=True),
    Column("period", Text, nullable=False),
    Column("issued_at", DateTime(timezone=True), nullable=False),
    Column("catalogue_version", Integer, nullable=False),
    # Canonical JSON [{"chain": int, "hash": hex, "seq": int}, ...]: every chain's head
    # at the close, so `ledger verify` can prove no entry before the close changed.
    Column("heads", Text, nullable=False),
    UniqueConstraint("period", name="closings_period_key"),
)

settlements = Table(
    "settlements",
    metadata,
    Column("period", Text, nullable=False),
    Column("municipality", Text, nullable=False),
    Column("vendor", Text, nullable=False),
    Column("close_id", Text, nullable=False),
    Column("document", Text, nullable=False),  # canonical JSON, including "digest"
    Column("digest", Text, nullable=False),  # "sha256:<hex>" of the document without digest
    PrimaryKeyConstraint("period", "municipality", "vendor", name="settlements_pkey"),
    # Deferred: the settling transaction may insert in any order; checked at commit.
    ForeignKeyConstraint(
        ["close_id"],
        ["ledger.closings.close_id"],
        name="settlements_close_id_fkey",
        deferrable=True,
        initially="DEFERRED",
    ),
)

settlement_lines = Table(
    "settlement_lines",
    metadata,
    Column("period", Text, nullable=False),
    Column("municipality", Text, nullable=False),
    Column("vendor", Text, nullable=False),
    Column("line_no", Integer, nullable=False),  # 1-based, the order of the document's lines
    Column("licence", Text, nullable=False),
    Column("usage_period", Text, nullable=False),
    Column("quantity", BigInteger, nullable=False),
    Column("amount_ore", BigInteger, nullable=False),
    Column("adjustment", Boolean, nullable=False),
    PrimaryKeyConstraint(
        "period", "municipality", "vendor", "line_no", name="settlement_lines_pkey"
    ),
    ForeignKeyConstraint(
        ["period", "municipality", "vendor"],
        [
            "ledger.settlements.period",
            "ledger.settlements.municipality",
            "ledger.settlements.vendor",
        ],
        name="settlement_lines_settlement_fkey",
        deferrable=True,
        initially="DEFERRED",
    ),
)

# API tokens (revision 0002): a revocation is a row of its own, so these stay append-only too.
api_tokens = Table(
    "api_tokens",
    metadata,
    Column("token_id", Text, primary_key=True, autoincrement=False),
    Column("scope", Text, nullable=False),
    Column("subject", Text, nullable=False),
    Column("secret_sha256", LargeBinary, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=True),
)

api_token_revocations = Table(
    "api_token_revocations",
    metadata,
    Column("token_id", Text, primary_key=True, autoincrement=False),
    Column("revoked_at", DateTime(timezone=True), nullable=False),
    ForeignKeyConstraint(
        ["token_id"], ["ledger.api_tokens.token_id"], name="api_token_revocations_token_id_fkey"
    ),
)

# Budgets (revision 0004): a later row supersedes earlier ones, so nothing is ever changed.
budgets = Table(
    "budgets",
    metadata,
    Column("budget_id", BigInteger, Identity(always=True), primary_key=True),
    Column("municipality", Text, nullable=False),
    Column("licence", Text, nullable=False),
    Column("from_period", Text, nullable=False),
    Column("standing", Boolean, nullable=False),  # false: that month only
    Column("amount_ore", BigInteger, nullable=False),
    Column("set_at", DateTime(timezone=True), nullable=False),
    Index("budgets_municipality_licence", "municipality", "licence", "budget_id"),
)

ledger_tables: tuple[Table, ...] = (
    entries,
    catalogue_versions,
    closings,
    settlements,
    settlement_lines,
    api_tokens,
    api_token_revocations,
    budgets,
)
