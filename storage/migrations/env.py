"""Alembic environment: runs migrations against settings.database_url."""

from __future__ import annotations

from alembic import context

from storage.db import get_engine
from storage.models import Base

config = context.config
url = config.get_main_option("sqlalchemy.url") or None


def run_migrations_online() -> None:
    """Run migrations in a transaction on a live connection."""
    engine = get_engine(url)
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=Base.metadata)
        with context.begin_transaction():
            context.run_migrations()


run_migrations_online()
