"""batch listing index; the usage ledger records its lane (realtime or batch)

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Give up rather than queue behind a long transaction while holding up every ledger write.
    op.execute("SET LOCAL lock_timeout = '10s'")
    # GET /v1/batches pages a tenant's batches newest first on (created_at, id).
    op.create_index("ix_batches_tenant_created", "batches", ["tenant_id", "created_at", "id"])
    # A constant server default: Postgres 11+ adds the column without rewriting the ledger,
    # and every row written before (and by workers that do not name a lane) is realtime.
    op.add_column(
        "llm_calls",
        sa.Column("lane", sa.String(length=16), server_default="realtime", nullable=False),
    )
    # NOT VALID: existing rows all hold the constant default, so the check need not scan the
    # whole ledger under the ACCESS EXCLUSIVE lock that ADD COLUMN took; new rows are checked.
    op.execute(
        "ALTER TABLE llm_calls ADD CONSTRAINT ck_llm_calls_lane"
        " CHECK (lane IN ('realtime', 'batch')) NOT VALID"
    )


def downgrade() -> None:
    op.drop_constraint(op.f("ck_llm_calls_lane"), "llm_calls", type_="check")
    op.drop_column("llm_calls", "lane")
    op.drop_index("ix_batches_tenant_created", table_name="batches")
