"""retention and erasure: tenants.retention_days, erasures, usage_days, ix_jobs_document

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02 17:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)
USD = sa.Numeric(14, 6)


def upgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '10s'")
    op.add_column("tenants", sa.Column("retention_days", sa.Integer()))
    # Deleting a document checks that no job still points at it: without this index each
    # check would scan jobs.
    op.create_index("ix_jobs_document", "jobs", ["document_sha256"])
    op.create_table(
        "erasures",
        sa.Column("batch_id", sa.Uuid(), primary_key=True),
        sa.Column(
            "tenant_id", sa.Uuid(), sa.ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("requested_at", TS, server_default=sa.func.now(), nullable=False),
        sa.Column("completed_at", TS),
        sa.Column("jobs_deleted", sa.Integer(), server_default="0", nullable=False),
        sa.Column("documents_deleted", sa.Integer(), server_default="0", nullable=False),
        sa.Column("documents_kept", sa.Integer(), server_default="0", nullable=False),
    )
    op.create_table(
        "usage_days",
        sa.Column(
            "tenant_id", sa.Uuid(), sa.ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("model", sa.String(64), nullable=False),
        sa.Column("tier", sa.String(8), nullable=False),
        sa.Column("lane", sa.String(16), nullable=False),
        sa.Column("calls", sa.BigInteger(), nullable=False),
        sa.Column("input_tokens", sa.BigInteger(), nullable=False),
        sa.Column("output_tokens", sa.BigInteger(), nullable=False),
        sa.Column("cached_tokens", sa.BigInteger(), nullable=False),
        sa.Column("cost_usd", USD, nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "day", "model", "tier", "lane"),
    )


def downgrade() -> None:
    op.drop_table("usage_days")
    op.drop_table("erasures")
    op.drop_index("ix_jobs_document", table_name="jobs")
    op.drop_column("tenants", "retention_days")
