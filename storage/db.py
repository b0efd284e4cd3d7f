"""Engine and session factory (one engine per process and URL), ping, and the jobs NOTIFY."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import ConnectionPoolEntry

from schemas.config import get_settings

# Every statement carries its own timeout: neither Celery pool enforces time limits.
STATEMENT_TIMEOUT_MS = 30_000
PING_AFTER_IDLE_S = 1.0
JOBS_CHANNEL = "docqueue_jobs"  # the scheduler LISTENs here (tasks/dispatch/scheduler.py)
_NOTIFY_JOBS = text(f"NOTIFY {JOBS_CHANNEL}")


@lru_cache(maxsize=4)
def get_engine(url: str | None = None) -> Engine:
    """The pooled engine for `url` (default: settings.database_url)."""
    engine = create_engine(
        url or get_settings().database_url,
        pool_size=20,
        max_overflow=40,
        pool_timeout=30,
        connect_args={
            "connect_timeout": 5,
            "options": f"-c statement_timeout={STATEMENT_TIMEOUT_MS}",
        },
    )
    _ping_when_idle(engine)
    return engine


def _ping_when_idle(engine: Engine) -> None:
    """Ping a pooled connection at checkout only if it sat idle for PING_AFTER_IDLE_S.

    pool_pre_ping would ping at every checkout: one round trip per transaction, several per
    job. A connection that was in use a moment ago is alive; one that idled may have lost
    its server (a restart), so it is pinged and, if dead, replaced before anyone uses it.
    """

    @event.listens_for(engine, "checkin")
    def _checkin(_dbapi: Any, record: ConnectionPoolEntry) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checkout(dbapi: Any, record: ConnectionPoolEntry, _proxy: Any) -> None:
        idle_since = record.info.get("idle_since")
        if idle_since is None or time.monotonic() - idle_since < PING_AFTER_IDLE_S:
            return  # fresh from connect(), or used a moment ago
        try:
            engine.dialect.do_ping(dbapi)
        except Exception as exc:
            raise DisconnectionError("pooled connection is dead") from exc  # pool reconnects


@lru_cache(maxsize=8)
def _factory(url: str | None, autocommit: bool = False) -> sessionmaker[Session]:
    engine = get_engine(url)
    if autocommit:  # same pool; each statement commits on its own, with no COMMIT round trip
        engine = engine.execution_options(isolation_level="AUTOCOMMIT")
    return sessionmaker(bind=engine, expire_on_commit=False)


@contextmanager
def session_scope(url: str | None = None, *, autocommit: bool = False) -> Iterator[Session]:
    """A session that commits on success and rolls back on error (or autocommits each statement).

    Use `autocommit` only for work that is one atomic statement per step (row locks then last
    for the statement alone, never for a round trip to this process).
    """
    session = _factory(url, autocommit)()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def notify_jobs(*, session: Session) -> None:
    """Wake the scheduler when this transaction commits: jobs were queued or slots freed."""
    session.execute(_NOTIFY_JOBS)


def ping(*, session: Session) -> None:
    """One round trip to the database (raises if it does not answer)."""
    session.execute(text("SELECT 1"))
