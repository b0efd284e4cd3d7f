"""batch results paging index

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 09:45:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Keyset pages of GET /v1/batches/{id}/results cost the same however large the batch.
    op.create_index("ix_jobs_batch_created", "jobs", ["batch_id", "created_at", "id"])


def downgrade() -> None:
    op.drop_index("ix_jobs_batch_created", table_name="jobs")
