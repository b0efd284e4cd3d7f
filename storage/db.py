"""Engines (one bounded pool per process and URL), sessions, ping, and the jobs NOTIFY.

Each process says at start what it is (`set_process_kind`: api, worker, scheduler, or cli
by default) and its pools take that kind's size from `[pools]` (docs/postgres.md).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import sqlalchemy
from sqlalchemy import Engine, event, text
from sqlalchemy.engine import ExceptionContext
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import Session
from sqlalchemy.pool import ConnectionPoolEntry, QueuePool

from schemas.config import PoolConfig, ProcessKind, get_settings
from storage import pooler, retrying

# Every statement carries its own timeout: neither Celery pool enforces time limits.
STATEMENT_TIMEOUT_MS = 30_000
PING_AFTER_IDLE_S = 1.0
MAX_ENGINES = 8  # distinct URLs per process (tests reach many databases); the oldest is disposed
JOBS_CHANNEL = "docqueue_jobs"  # the scheduler LISTENs here (tasks/dispatch/scheduler.py)
_NOTIFY_JOBS = text(f"NOTIFY {JOBS_CHANNEL}")

_lock = threading.Lock()
_kind: ProcessKind = "cli"
_engines: dict[str, tuple[Engine, Engine]] = {}  # url -> (engine, its autocommit twin)


@dataclass(frozen=True)
class PoolStatus:
    """This process's pools, summed over its engines."""

    kind: ProcessKind
    checked_out: int
    overflow: int
    capacity: int


def set_process_kind(kind: ProcessKind) -> None:
    """Name this process's kind before it connects (pools already open are disposed)."""
    global _kind  # noqa: PLW0603 - one kind per process is the point
    with _lock:
        if kind == _kind:
            return
        _kind = kind
        stale = list(_engines.values())
        _engines.clear()
    for engine, _ in stale:
        engine.dispose()


def process_kind() -> ProcessKind:
    """The kind this process declared (cli unless told otherwise)."""
    return _kind


def make_engine(url: str, pool: PoolConfig, *, application_name: str | None = None) -> Engine:
    """A new engine whose pool never holds more than `pool.most` connections."""
    connect_args: dict[str, Any] = {
        "connect_timeout": 5,
        # pg_stat_activity then shows which kind of process holds each connection
        "application_name": application_name or f"docqueue-{_kind}",
        "prepare_threshold": None,  # a transaction pooler may switch server connections
    }
    if not pooler.behind_pooler(url, get_settings()):  # a pooler sets it (storage/pooler.py)
        connect_args["options"] = f"-c statement_timeout={STATEMENT_TIMEOUT_MS}"
    # Through the module: tracing wraps sqlalchemy.create_engine after this import.
    engine = sqlalchemy.create_engine(
        url,
        poolclass=QueuePool,
        pool_size=pool.pool_size,
        max_overflow=pool.max_overflow,
        pool_timeout=pool.pool_timeout_s,
        connect_args=connect_args,
    )
    pooler.connect_without_refused_options(engine)
    _ping_when_idle(engine)
    _count_connection_errors(engine)
    return engine


def _engines_for(url: str | None) -> tuple[Engine, Engine]:
    key = url or get_settings().database_url
    with _lock:
        found = _engines.pop(key, None)
        if found is None:
            engine = make_engine(key, get_settings().app.pools.for_kind(_kind))
            # same pool; each statement commits on its own, with no COMMIT round trip
            found = (engine, engine.execution_options(isolation_level="AUTOCOMMIT"))
        _engines[key] = found  # most recently used last
        evicted = list(_engines)[:-MAX_ENGINES]
        old = [_engines.pop(k) for k in evicted]
    for engine, _ in old:
        engine.dispose()  # its idle connections would otherwise count against max_connections
    return found


def get_engine(url: str | None = None) -> Engine:
    """The pooled engine for `url` (default: settings.database_url)."""
    return _engines_for(url)[0]


def pool_status() -> PoolStatus:
    """Connections checked out and in overflow now, and the most the pools may hold."""
    with _lock:
        pools = [engine.pool for engine, _ in _engines.values()]
    checked_out = overflow = capacity = 0
    for pool in pools:
        if isinstance(pool, QueuePool):
            checked_out += pool.checkedout()
            overflow += max(0, pool.overflow())  # negative while below pool_size
            # QueuePool offers no public getter for its max_overflow
            capacity += pool.size() + pool._max_overflow
    return PoolStatus(_kind, checked_out, overflow, capacity)


def _count_connection_errors(engine: Engine) -> None:
    """Count refused and dropped connections by kind (failed connects included)."""

    @event.listens_for(engine, "handle_error")
    def _on_error(context: ExceptionContext) -> None:
        kind = retrying.transient_kind(context.original_exception)
        if kind is None and context.is_disconnect:
            kind = "dropped"
        if kind is not None:
            retrying.note_error(kind)


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


@contextmanager
def session_scope(url: str | None = None, *, autocommit: bool = False) -> Iterator[Session]:
    """A session that commits on success and rolls back on error (or autocommits each statement).

    Use `autocommit` only for work that is one atomic statement per step (row locks then last
    for the statement alone, never for a round trip to this process).
    """
    engine, autocommit_engine = _engines_for(url)
    session = Session(bind=autocommit_engine if autocommit else engine, expire_on_commit=False)
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
