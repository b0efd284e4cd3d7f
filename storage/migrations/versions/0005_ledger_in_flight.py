"""ledger rows opened before each call: index the in-flight ones

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 13:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # The reconciler looks for orphaned in-flight calls every pass; the partial index
    # holds only the few calls in the air, whatever the size of the ledger.
    op.create_index(
        "ix_llm_calls_in_flight",
        "llm_calls",
        ["created_at"],
        postgresql_where=sa.text("outcome = 'in_flight'"),
    )


def downgrade() -> None:
    op.drop_index("ix_llm_calls_in_flight", table_name="llm_calls")
