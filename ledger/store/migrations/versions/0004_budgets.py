"""Budgets: what a municipality means to spend per licence per month, append-only.

Revision ID: 0004
Revises: 0003

A budget is set for one month, or standing from a month on (`from_period`, with
`standing` true). Nothing is ever changed: a new row for the same municipality and
licence supersedes earlier ones from its month on (the latest `budget_id` wins), so
the history of what was budgeted, and when, stays readable.
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision: str | None = "0003"
branch_labels: str | None = None
depends_on: str | None = None

CREATE_TABLE = r"""
CREATE TABLE ledger.budgets (
    budget_id bigint GENERATED ALWAYS AS IDENTITY,
    municipality text NOT NULL CHECK (municipality ~ '^[0-9]{4}$'),
    licence text NOT NULL,
    from_period text NOT NULL CHECK (from_period ~ '^[0-9]{4}-(0[1-9]|1[0-2])$'),
    standing boolean NOT NULL,
    amount_ore bigint NOT NULL CHECK (amount_ore > 0),
    set_at timestamptz NOT NULL,
    CONSTRAINT budgets_pkey PRIMARY KEY (budget_id)
)
"""

CREATE_INDEX = """
CREATE INDEX budgets_municipality_licence ON ledger.budgets (municipality, licence, budget_id)
"""


def upgrade() -> None:
    op.execute(CREATE_TABLE)
    op.execute(CREATE_INDEX)
    trigger = "budgets_append_only"
    op.execute(
        f"CREATE TRIGGER {trigger} BEFORE UPDATE OR DELETE OR TRUNCATE ON ledger.budgets "
        "FOR EACH STATEMENT EXECUTE FUNCTION ledger.refuse_change()"
    )
    op.execute(f"ALTER TABLE ledger.budgets ENABLE ALWAYS TRIGGER {trigger}")
    op.execute("REVOKE ALL ON ledger.budgets FROM PUBLIC, ledger_writer")
    op.execute("GRANT SELECT, INSERT ON ledger.budgets TO ledger_writer")


def downgrade() -> None:
    op.execute("DROP TABLE ledger.budgets")
