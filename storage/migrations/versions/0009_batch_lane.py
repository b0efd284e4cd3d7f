"""batch lane: a lane and deadline per job, provider batches, their items, and job tapes

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 00:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSONB = postgresql.JSONB(astext_type=sa.Text())
TS = sa.DateTime(timezone=True)
USD = sa.Numeric(14, 6)


def upgrade() -> None:
    # Give up rather than queue behind a long transaction while holding up every job write.
    op.execute("SET LOCAL lock_timeout = '10s'")
    # Nullable columns and constant defaults only: Postgres 11+ adds them without a rewrite.
    # Anthropic prompt-cache writes, billed above the input price: the cost they make up.
    op.add_column(
        "llm_calls",
        sa.Column("cache_write_tokens", sa.Integer(), server_default="0", nullable=False),
    )
    op.add_column(
        "jobs", sa.Column("lane", sa.String(8), server_default="realtime", nullable=False)
    )
    op.add_column("jobs", sa.Column("lane_reason", sa.Text(), server_default="", nullable=False))
    op.add_column("jobs", sa.Column("deadline", TS, nullable=True))
    op.add_column("jobs", sa.Column("parked_at", TS, nullable=True))
    op.add_column(
        "batches", sa.Column("lane", sa.String(8), server_default="realtime", nullable=False)
    )
    op.add_column(
        "budget_reservations",
        sa.Column("lane", sa.String(8), server_default="realtime", nullable=False),
    )
    # The scheduler's work list leaves out jobs waiting on a provider batch.
    op.drop_index("ix_jobs_undispatched", table_name="jobs")
    op.create_index(
        "ix_jobs_undispatched",
        "jobs",
        ["tier", "tenant_id", "created_at"],
        postgresql_where=sa.text(
            "status = 'queued' AND dispatched_at IS NULL AND parked_at IS NULL"
        ),
    )
    op.create_index(
        "ix_jobs_parked",
        "jobs",
        ["tenant_id"],
        postgresql_where=sa.text("parked_at IS NOT NULL"),
    )
    op.create_table(
        "provider_batches",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("provider", sa.String(16), nullable=False),
        sa.Column("model", sa.String(64), nullable=False),
        sa.Column("state", sa.String(16), server_default="preparing", nullable=False),
        sa.Column("provider_status", sa.String(32)),
        sa.Column("provider_batch_id", sa.String(128), unique=True),
        sa.Column("input_file_id", sa.String(128)),
        sa.Column("request_count", sa.Integer(), nullable=False),
        sa.Column("request_bytes", sa.BigInteger(), nullable=False),
        sa.Column("counts", JSONB, server_default="{}", nullable=False),
        sa.Column("error", sa.Text()),
        sa.Column("expires_at", TS),
        sa.Column("created_at", TS, server_default=sa.func.now(), nullable=False),
        sa.Column("submitted_at", TS),
        sa.Column("ended_at", TS),
    )
    op.create_index(
        "ix_provider_batches_open",
        "provider_batches",
        ["state"],
        postgresql_where=sa.text("state <> 'done'"),
    )
    op.create_table(
        "lane_items",
        sa.Column("id", sa.BigInteger(), primary_key=True, autoincrement=True),
        sa.Column("custom_id", sa.String(64), nullable=False, unique=True),
        sa.Column(
            "job_id", sa.Uuid(), sa.ForeignKey("jobs.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column(
            "tenant_id",
            sa.Uuid(),
            sa.ForeignKey("tenants.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("provider", sa.String(16), nullable=False),
        sa.Column("model", sa.String(64), nullable=False),
        sa.Column("body", JSONB, nullable=False),
        sa.Column("request_sha", sa.String(64), nullable=False),
        sa.Column("request_bytes", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(16), server_default="parked", nullable=False),
        sa.Column("call_id", sa.BigInteger()),
        sa.Column("reservation_id", sa.Uuid()),
        sa.Column("reserved_usd", USD, nullable=False),
        sa.Column(
            "provider_batch_id",
            sa.Uuid(),
            sa.ForeignKey("provider_batches.id", ondelete="SET NULL"),
        ),
        sa.Column("created_at", TS, server_default=sa.func.now(), nullable=False),
        sa.Column("resolved_at", TS),
    )
    op.create_index(
        "ix_lane_items_parked",
        "lane_items",
        ["provider", "model", "created_at"],
        postgresql_where=sa.text("state = 'parked'"),
    )
    op.create_index("ix_lane_items_batch", "lane_items", ["provider_batch_id"])
    op.create_index("ix_lane_items_job", "lane_items", ["job_id"])
    op.create_table(
        "lane_exchanges",
        sa.Column("id", sa.BigInteger(), primary_key=True, autoincrement=True),
        sa.Column(
            "job_id", sa.Uuid(), sa.ForeignKey("jobs.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("request_sha", sa.String(64), nullable=False),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("body", JSONB),
        sa.Column("created_at", TS, server_default=sa.func.now(), nullable=False),
        sa.UniqueConstraint("job_id", "seq", name="uq_lane_exchanges_job_seq"),
    )


def downgrade() -> None:
    op.drop_table("lane_exchanges")
    op.drop_table("lane_items")
    op.drop_table("provider_batches")
    op.drop_index("ix_jobs_parked", table_name="jobs")
    op.drop_index("ix_jobs_undispatched", table_name="jobs")
    op.create_index(
        "ix_jobs_undispatched",
        "jobs",
        ["tier", "tenant_id", "created_at"],
        postgresql_where=sa.text("status = 'queued' AND dispatched_at IS NULL"),
    )
    op.drop_column("budget_reservations", "lane")
    op.drop_column("batches", "lane")
    op.drop_column("llm_calls", "cache_write_tokens")
    for name in ("parked_at", "deadline", "lane_reason", "lane"):
        op.drop_column("jobs", name)
