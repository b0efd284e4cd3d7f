"""jobs: index what holds a tenant's slots, not every queued job

The scheduler counts each tenant's jobs in flight (running, or published and not yet
claimed) on every pick, and the reconciler looks for published jobs nobody claimed.
`ix_jobs_active` indexed every queued job, so both walked the whole queue (a million rows
with a million queued). `ix_jobs_in_flight` holds only what they look for.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 04:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

IN_FLIGHT = "status = 'running' OR (status = 'queued' AND dispatched_at IS NOT NULL)"


def upgrade() -> None:
    # Give up rather than queue behind a long transaction while holding up every job write.
    op.execute("SET LOCAL lock_timeout = '10s'")
    op.create_index(
        "ix_jobs_in_flight",
        "jobs",
        ["tier", "tenant_id"],
        postgresql_where=sa.text(IN_FLIGHT),
    )
    op.drop_index("ix_jobs_active", table_name="jobs")


def downgrade() -> None:
    op.create_index(
        "ix_jobs_active",
        "jobs",
        ["tier", "status"],
        postgresql_where=sa.text("status IN ('queued','running')"),
    )
    op.drop_index("ix_jobs_in_flight", table_name="jobs")
