"""The ledger schema: entries (hash chains), catalogue versions, closings, settlements.

Revision ID: 0001
Revises: (none)

Frozen: this file states the schema as of revision 0001 in plain SQL and never
imports `ledger.store.schema`, so later edits there cannot change what an old
migration did. A change is a new revision.

What the database itself enforces, whoever connects:
- every ledger table refuses UPDATE, DELETE and TRUNCATE (statement triggers,
  ENABLE ALWAYS so `session_replication_role = replica` does not skip them);
- the application role `ledger_writer` (NOLOGIN; sessions `SET ROLE` to it) may only
  SELECT and INSERT;
- `ledger.entry_bytes(e)` is the canonical encoding of ledger/chain.py, computed by
  PostgreSQL, which `ledger verify` hashes to check every entry against its stored hash.
"""

from __future__ import annotations

from alembic import op

revision = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None

LEDGER_TABLES = ("entries", "catalogue_versions", "closings", "settlements", "settlement_lines")

REQUIRE_UTF8 = """
DO $$
BEGIN
    IF current_setting('server_encoding') <> 'UTF8' THEN
        RAISE EXCEPTION 'the ledger database must use encoding UTF8, not %',
            current_setting('server_encoding')
            USING HINT = 'create the database with ENCODING ''UTF8''';
    END IF;
END
$$
"""

# Roles are cluster-wide, so migrations of two workspace databases can race here:
# the loser of a concurrent CREATE ROLE gets duplicate_object or unique_violation.
CREATE_WRITER_ROLE = """
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'ledger_writer') THEN
        BEGIN
            CREATE ROLE ledger_writer NOLOGIN;
        EXCEPTION WHEN duplicate_object OR unique_violation THEN
            NULL;  -- created by another database's migration at the same moment
        END;
    END IF;
    -- The owner's sessions switch to ledger_writer, which needs membership.
    IF NOT pg_catalog.pg_has_role(current_user, 'ledger_writer', 'MEMBER') THEN
        EXECUTE pg_catalog.format('GRANT ledger_writer TO %I', current_user);
    END IF;
END
$$
"""

CREATE_TABLES = (
    r"""
CREATE TABLE ledger.entries (
    chain integer NOT NULL CHECK (chain >= 0),
    seq bigint NOT NULL CHECK (seq >= 1),
    kind text NOT NULL CHECK (kind IN ('event', 'catalogue', 'close')),
    status text CHECK (status IN ('accepted', 'duplicate', 'rejected')),
    source_topic text NOT NULL,
    source_offset bigint NOT NULL CHECK (source_offset >= 0),
    received_at timestamptz NOT NULL CHECK (isfinite(received_at)),
    vendor text,
    event_id text,
    product text,
    school text,
    municipality text,
    learner_hash bytea,
    role text,
    action text,
    item text,
    unit text,
    quantity bigint,
    occurred_at timestamptz CHECK (isfinite(occurred_at)),
    period text,
    licence_id text,
    catalogue_version integer,
    content_digest bytea,
    reason_code text,
    reason_detail text,
    reference text,
    prev_hash bytea NOT NULL CHECK (octet_length(prev_hash) = 32),
    hash bytea NOT NULL CHECK (octet_length(hash) = 32),
    CONSTRAINT entries_pkey PRIMARY KEY (chain, seq),
    CONSTRAINT entries_source_key UNIQUE (source_topic, chain, source_offset),
    CONSTRAINT entries_status_only_for_events CHECK ((kind = 'event') = (status IS NOT NULL)),
    CONSTRAINT entries_first_links_to_genesis
        CHECK (seq > 1 OR prev_hash = decode(repeat('00', 32), 'hex'))
)
""",
    r"""
CREATE UNIQUE INDEX entries_accepted_event_key
    ON ledger.entries (vendor, event_id) WHERE status = 'accepted'
""",
    r"""
CREATE INDEX entries_accepted_period_licence
    ON ledger.entries (period, licence_id) WHERE status = 'accepted'
""",
    r"""
CREATE INDEX entries_chain_kind ON ledger.entries (chain, kind)
""",
    r"""
CREATE TABLE ledger.catalogue_versions (
    version integer PRIMARY KEY CHECK (version >= 1),
    sha256 text NOT NULL UNIQUE,
    document text NOT NULL,
    loaded_at timestamptz NOT NULL
)
""",
    r"""
CREATE TABLE ledger.closings (
    close_id text PRIMARY KEY,
    period text NOT NULL UNIQUE CHECK (period ~ '^[0-9]{4}-(0[1-9]|1[0-2])$'),
    issued_at timestamptz NOT NULL,
    catalogue_version integer NOT NULL,
    heads text NOT NULL
)
""",
    r"""
CREATE TABLE ledger.settlements (
    period text NOT NULL CHECK (period ~ '^[0-9]{4}-(0[1-9]|1[0-2])$'),
    municipality text NOT NULL,
    vendor text NOT NULL,
    close_id text NOT NULL,
    document text NOT NULL,
    digest text NOT NULL CHECK (digest ~ '^sha256:[0-9a-f]{64}$'),
    CONSTRAINT settlements_pkey PRIMARY KEY (period, municipality, vendor),
    CONSTRAINT settlements_close_id_fkey FOREIGN KEY (close_id)
        REFERENCES ledger.closings (close_id) DEFERRABLE INITIALLY DEFERRED
)
""",
    r"""
CREATE TABLE ledger.settlement_lines (
    period text NOT NULL,
    municipality text NOT NULL,
    vendor text NOT NULL,
    line_no integer NOT NULL CHECK (line_no >= 1),
    licence text NOT NULL,
    usage_period text NOT NULL CHECK (usage_period ~ '^[0-9]{4}-(0[1-9]|1[0-2])$'),
    quantity bigint NOT NULL,
    amount_ore bigint NOT NULL,
    adjustment boolean NOT NULL,
    CONSTRAINT settlement_lines_pkey PRIMARY KEY (period, municipality, vendor, line_no),
    CONSTRAINT settlement_lines_settlement_fkey FOREIGN KEY (period, municipality, vendor)
        REFERENCES ledger.settlements (period, municipality, vendor) DEFERRABLE INITIALLY DEFERRED
)
""",
)

REFUSE_CHANGE_FUNCTION = """
CREATE FUNCTION ledger.refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'ledger.% is append-only: % is refused for every role',
        TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege',
              HINT = 'ledger rows are never changed or removed; record a correction as a new row';
END
$$
"""

# The canonical encoding of ledger/chain.py (version 1), in SQL so PostgreSQL does the
# per-field work in C. The helpers are single-expression SQL functions, which the
# planner inlines into the query (about ten times faster than calling them).
#
# STABLE, not IMMUTABLE: textsend and extract(epoch from timestamptz) are STABLE, and a
# function declared IMMUTABLE with a STABLE body is never inlined. textsend returns the
# text in the client encoding; with server_encoding UTF8 (checked above) and
# client_encoding UTF8 (asyncpg always; `ledger verify` checks) that is the UTF-8
# bytes, and about twice as fast as convert_to(v, 'UTF8').
ENTRY_BYTES_FUNCTIONS = (
    r"""
CREATE FUNCTION ledger.encode_text(v text) RETURNS bytea
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT coalesce('\x01'::bytea || int4send(octet_length(v)) || textsend(v), '\x00'::bytea)
$$
""",
    r"""
CREATE FUNCTION ledger.encode_bytes(v bytea) RETURNS bytea
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT coalesce('\x02'::bytea || int4send(octet_length(v)) || v, '\x00'::bytea)
$$
""",
    r"""
CREATE FUNCTION ledger.encode_integer(v bigint) RETURNS bytea
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT coalesce('\x03'::bytea || int8send(v), '\x00'::bytea)
$$
""",
    r"""
-- extract(epoch ...) is an exact numeric with six decimals, so * 1000000 is exact.
CREATE FUNCTION ledger.encode_timestamp(v timestamptz) RETURNS bytea
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT coalesce('\x04'::bytea || int8send((extract(epoch FROM v) * 1000000)::bigint),
                    '\x00'::bytea)
$$
""",
    r"""
CREATE FUNCTION ledger.entry_bytes(e ledger.entries) RETURNS bytea
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT '\x01'::bytea
        || ledger.encode_integer(e.chain)
        || ledger.encode_integer(e.seq)
        || ledger.encode_text(e.kind)
        || ledger.encode_text(e.status)
        || ledger.encode_text(e.source_topic)
        || ledger.encode_integer(e.source_offset)
        || ledger.encode_timestamp(e.received_at)
        || ledger.encode_text(e.vendor)
        || ledger.encode_text(e.event_id)
        || ledger.encode_text(e.product)
        || ledger.encode_text(e.school)
        || ledger.encode_text(e.municipality)
        || ledger.encode_bytes(e.learner_hash)
        || ledger.encode_text(e.role)
        || ledger.encode_text(e.action)
        || ledger.encode_text(e.item)
        || ledger.encode_text(e.unit)
        || ledger.encode_integer(e.quantity)
        || ledger.encode_timestamp(e.occurred_at)
        || ledger.encode_text(e.period)
        || ledger.encode_text(e.licence_id)
        || ledger.encode_integer(e.catalogue_version)
        || ledger.encode_bytes(e.content_digest)
        || ledger.encode_text(e.reason_code)
        || ledger.encode_text(e.reason_detail)
        || ledger.encode_text(e.reference)
$$
""",
    r"""
COMMENT ON FUNCTION ledger.entry_bytes(ledger.entries) IS
    'canonical_bytes(chain, seq, draft) of ledger/chain.py, encoding version 1; '
    'requires server_encoding and client_encoding UTF8'
""",
)


def _append_only(table: str) -> list[str]:
    trigger = f"{table}_append_only"
    return [
        f"CREATE TRIGGER {trigger} BEFORE UPDATE OR DELETE OR TRUNCATE ON ledger.{table} "
        "FOR EACH STATEMENT EXECUTE FUNCTION ledger.refuse_change()",
        f"ALTER TABLE ledger.{table} ENABLE ALWAYS TRIGGER {trigger}",
        f"REVOKE ALL ON ledger.{table} FROM PUBLIC, ledger_writer",
        f"GRANT SELECT, INSERT ON ledger.{table} TO ledger_writer",
    ]


def upgrade() -> None:
    op.execute(REQUIRE_UTF8)
    op.execute(CREATE_WRITER_ROLE)
    op.execute("CREATE SCHEMA IF NOT EXISTS ledger")
    op.execute("REVOKE ALL ON SCHEMA ledger FROM PUBLIC")
    op.execute("GRANT USAGE ON SCHEMA ledger TO ledger_writer")
    for statement in CREATE_TABLES:
        op.execute(statement)
    op.execute(REFUSE_CHANGE_FUNCTION)
    for table in LEDGER_TABLES:
        for statement in _append_only(table):
            op.execute(statement)
    for statement in ENTRY_BYTES_FUNCTIONS:
        op.execute(statement)


def downgrade() -> None:
    # The role stays: it is cluster-wide and other workspace databases use it.
    op.execute("DROP FUNCTION ledger.entry_bytes(ledger.entries)")
    for table in reversed(LEDGER_TABLES):
        op.execute(f"DROP TABLE ledger.{table}")
    op.execute("DROP FUNCTION ledger.refuse_change()")
    for function in ("encode_text(text)", "encode_bytes(bytea)", "encode_integer(bigint)",
                     "encode_timestamp(timestamptz)"):  # fmt: skip
        op.execute(f"DROP FUNCTION ledger.{function}")
