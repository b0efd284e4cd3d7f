"""Every schema change is a migration: the migrated database matches the models."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from storage.db import get_engine
from storage.models import Base


def test_migrations_produce_exactly_the_models_schema(pg_url: str) -> None:
    with get_engine(pg_url).connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []
