"""extractors as data: named, versioned JSON-Schema extractors; jobs trace to their version

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 16:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "extractors",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("tenant_id", sa.UUID(), nullable=True),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("latest_version", sa.Integer(), nullable=False),
        sa.Column("archived_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name="fk_extractors_tenant_id_tenants",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_extractors"),
        # NULLS NOT DISTINCT (Postgres 15): one row per built-in name for the system owner.
        sa.UniqueConstraint(
            "tenant_id", "name", name="uq_extractors_owner_name", postgresql_nulls_not_distinct=True
        ),
    )
    op.create_table(
        "extractor_versions",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("extractor_id", sa.UUID(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        # json keeps the tenant's key order (jsonb sorts keys): providers see it as written
        sa.Column("json_schema", sa.JSON(), nullable=False),
        sa.Column("instructions", sa.Text(), nullable=True),
        sa.Column("prompt_system", sa.Text(), nullable=False),
        sa.Column("prompt_user", sa.Text(), nullable=False),
        sa.Column("schema_hash", sa.String(length=64), nullable=False),
        sa.Column("prompt_hash", sa.String(length=64), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["extractor_id"],
            ["extractors.id"],
            name="fk_extractor_versions_extractor_id_extractors",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_extractor_versions"),
        sa.UniqueConstraint("extractor_id", "version", name="uq_extractor_versions_extractor_id"),
    )
    # A batch records the `name@version` it resolved to: a 64-character slug plus the pin.
    op.alter_column("batches", "schema_name", type_=sa.String(length=80))
    op.add_column("jobs", sa.Column("extractor_version_id", sa.UUID(), nullable=True))
    op.add_column("jobs", sa.Column("schema_hash", sa.String(length=64), nullable=True))
    op.add_column("jobs", sa.Column("prompt_hash", sa.String(length=64), nullable=True))
    op.create_foreign_key(
        "fk_jobs_extractor_version_id_extractor_versions",
        "jobs",
        "extractor_versions",
        ["extractor_version_id"],
        ["id"],
    )


def downgrade() -> None:
    op.drop_constraint("fk_jobs_extractor_version_id_extractor_versions", "jobs")
    op.drop_column("jobs", "prompt_hash")
    op.drop_column("jobs", "schema_hash")
    op.drop_column("jobs", "extractor_version_id")
    op.alter_column("batches", "schema_name", type_=sa.String(length=64))
    op.drop_table("extractor_versions")
    op.drop_table("extractors")
