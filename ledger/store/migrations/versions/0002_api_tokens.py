"""API tokens: issued tokens and their revocations, both append-only.

Revision ID: 0002
Revises: 0001

A revocation is a row of its own rather than an UPDATE of the token, so the tables
keep the ledger's rule (no row ever changes) and the history of who could reach the
API, and until when, stays readable. Only the SHA-256 of each token's secret is stored.
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None

TOKEN_TABLES = ("api_tokens", "api_token_revocations")

CREATE_TABLES = (
    """
CREATE TABLE ledger.api_tokens (
    token_id text NOT NULL,
    scope text NOT NULL,
    subject text NOT NULL,
    secret_sha256 bytea NOT NULL,
    created_at timestamptz NOT NULL,
    expires_at timestamptz,
    CONSTRAINT api_tokens_pkey PRIMARY KEY (token_id),
    CONSTRAINT api_tokens_scope_check
        CHECK (scope IN ('vendor', 'municipality', 'auditor', 'admin')),
    CONSTRAINT api_tokens_secret_sha256_check CHECK (octet_length(secret_sha256) = 32)
)
""",
    """
CREATE TABLE ledger.api_token_revocations (
    token_id text NOT NULL,
    revoked_at timestamptz NOT NULL,
    CONSTRAINT api_token_revocations_pkey PRIMARY KEY (token_id),
    CONSTRAINT api_token_revocations_token_id_fkey FOREIGN KEY (token_id)
        REFERENCES ledger.api_tokens (token_id)
)
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
    for statement in CREATE_TABLES:
        op.execute(statement)
    for table in TOKEN_TABLES:
        for statement in _append_only(table):
            op.execute(statement)


def downgrade() -> None:
    for table in reversed(TOKEN_TABLES):
        op.execute(f"DROP TABLE ledger.{table}")
