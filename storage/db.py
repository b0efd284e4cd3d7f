"""Engine and session factory, one engine per process and URL."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache

from sqlalchemy import Engine, create_engine
from sqlalchemy.orm import Session, sessionmaker

from schemas.config import get_settings

# Every statement carries its own timeout: neither Celery pool enforces time limits.
STATEMENT_TIMEOUT_MS = 30_000


@lru_cache(maxsize=4)
def get_engine(url: str | None = None) -> Engine:
    """The pooled engine for `url` (default: settings.database_url)."""
    return create_engine(
        url or get_settings().database_url,
        pool_size=20,
        max_overflow=40,
        pool_pre_ping=True,
        pool_timeout=30,
        connect_args={
            "connect_timeout": 5,
            "options": f"-c statement_timeout={STATEMENT_TIMEOUT_MS}",
        },
    )


@lru_cache(maxsize=4)
def _factory(url: str | None) -> sessionmaker[Session]:
    return sessionmaker(bind=get_engine(url), expire_on_commit=False)


@contextmanager
def session_scope(url: str | None = None) -> Iterator[Session]:
    """A session that commits on success and rolls back on error."""
    session = _factory(url)()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
