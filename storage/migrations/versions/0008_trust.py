"""trust: per-field evidence and confidence, review states and their audit trail, OCR sources

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 21:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSONB = postgresql.JSONB(astext_type=sa.Text())


def upgrade() -> None:
    # Give up rather than queue behind a long transaction while holding up every job write.
    op.execute("SET LOCAL lock_timeout = '10s'")
    # Nullable columns and constant defaults only: Postgres 11+ adds them without a rewrite.
    for name, type_, default in (
        ("evidence", JSONB, None),
        ("confidence", sa.Double(), None),
        ("review_state", sa.String(length=16), None),
        ("document_fit", JSONB, None),
        ("original_result", JSONB, None),
        ("result_version", sa.Integer(), "1"),
        ("trust_policy", JSONB, "{}"),
        ("warnings", JSONB, "[]"),
        ("ocr_pages", JSONB, None),
    ):
        op.add_column(
            "jobs", sa.Column(name, type_, server_default=default, nullable=default is None)
        )
    # GET /v1/review pages a tenant's pending jobs oldest first; the index holds only those.
    op.create_index(
        "ix_jobs_review_pending",
        "jobs",
        ["tenant_id", "created_at", "id"],
        postgresql_where=sa.text("review_state = 'pending'"),
    )
    op.add_column("tenants", sa.Column("review_threshold", sa.Double(), nullable=True))
    op.add_column("tenants", sa.Column("on_mismatch", sa.String(length=16), nullable=True))
    op.add_column("extractors", sa.Column("review_threshold", sa.Double(), nullable=True))
    op.add_column("extractors", sa.Column("verify", sa.String(length=32), nullable=True))
    op.add_column(
        "documents",
        sa.Column("ocr_state", sa.String(length=16), server_default="none", nullable=False),
    )
    op.add_column("documents", sa.Column("ocr_pages", JSONB, nullable=True))
    op.add_column("documents", sa.Column("ocr_words", JSONB, nullable=True))
    op.add_column("documents", sa.Column("ocr_warnings", JSONB, nullable=True))
    op.add_column(
        "documents", sa.Column("ocr_claimed_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.create_table(
        "job_reviews",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("job_id", sa.UUID(), nullable=False),
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("api_key_id", sa.UUID(), nullable=True),
        sa.Column("reviewer", sa.String(length=200), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("corrections", JSONB, nullable=False),
        sa.Column("before", JSONB, nullable=True),
        sa.Column("after", JSONB, nullable=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["job_id"], ["jobs.id"], name=op.f("fk_job_reviews_job_id_jobs"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_job_reviews_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["api_key_id"],
            ["api_keys.id"],
            name=op.f("fk_job_reviews_api_key_id_api_keys"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_job_reviews")),
    )
    op.create_index("ix_job_reviews_job", "job_reviews", ["job_id", "id"])
    op.create_table(
        "document_sources",
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("pages", JSONB, nullable=False),
        sa.Column("total_pages", sa.Integer(), nullable=False),
        sa.Column("page_texts", JSONB, server_default="{}", nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["sha256"],
            ["documents.sha256"],
            name=op.f("fk_document_sources_sha256_documents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("sha256", name=op.f("pk_document_sources")),
    )


def downgrade() -> None:
    op.drop_table("document_sources")
    op.drop_index("ix_job_reviews_job", table_name="job_reviews")
    op.drop_table("job_reviews")
    for column in ("ocr_claimed_at", "ocr_warnings", "ocr_words", "ocr_pages", "ocr_state"):
        op.drop_column("documents", column)
    op.drop_column("extractors", "verify")
    op.drop_column("extractors", "review_threshold")
    op.drop_column("tenants", "on_mismatch")
    op.drop_column("tenants", "review_threshold")
    op.drop_index("ix_jobs_review_pending", table_name="jobs")
    for column in (
        "ocr_pages",
        "warnings",
        "trust_policy",
        "result_version",
        "original_result",
        "document_fit",
        "review_state",
        "confidence",
        "evidence",
    ):
        op.drop_column("jobs", column)
