"""An index for a vendor's rejection feed (`GET /v1/events/rejected`).

Revision ID: 0003
Revises: 0002

The feed pages by (chain, seq) per vendor over rejected entries only: a partial index
keeps it an index scan however large the ledger grows, and costs nothing for accepted
events (the vast majority).
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.execute(
        "CREATE INDEX entries_rejected_vendor ON ledger.entries (vendor, chain, seq)"
        " WHERE status = 'rejected'"
    )


def downgrade() -> None:
    op.execute("DROP INDEX ledger.entries_rejected_vendor")
