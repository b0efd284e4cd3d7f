"""Transient connection faults: tell them apart, count them, and retry writes through them.

A refused connection (Postgres restarting, `too many clients`), a dropped one (server
closed it, admin shutdown) and a pool that stayed empty for its whole `pool_timeout` are
transient: the same work succeeds a moment later. Anything else (a constraint, a statement
timeout, a bug) is not, and is raised at once.

`retry_transient(op, fn)` runs `fn` again after such a fault, with jittered exponential
backoff, for at most `[db_retry] max_wall_s`. `fn` must open its own session (every attempt
gets a fresh connection) and be safe to repeat: a fault can strike after the server
committed but before the answer arrived, so a repeated write must be fenced, idempotent,
or check first whether the earlier attempt landed (see tasks/worker/store.py).
"""

from __future__ import annotations

import functools
import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import ParamSpec, TypeVar

import psycopg
import structlog
from sqlalchemy import exc as sa_exc

from schemas.config import DbRetryConfig, get_settings

log = structlog.get_logger(__name__)
P = ParamSpec("P")
T = TypeVar("T")

KINDS = ("too_many_clients", "refused", "dropped", "pool_timeout")
_TOO_MANY = ("too many clients", "too many connections", "remaining connection slots")
_DROPPED = (
    "server closed the connection",
    "terminating connection",
    "connection is closed",
    "connection is lost",
    "consuming input failed",
    "connection already closed",
    "ssl syscall error",
)
_REFUSED = (
    "connection refused",
    "could not connect",
    "connection failed",
    "timeout expired",
    "the database system is starting up",
    "the database system is shutting down",
    "the database system is in recovery mode",
)
_DROPPED_STATES = ("57P01", "57P02")  # admin shutdown, crash shutdown
_REFUSED_STATES = ("57P03",)  # cannot connect now

_counts: Counter[str] = Counter()
_counts_lock = threading.Lock()


def transient_kind(exc: BaseException) -> str | None:
    """`too_many_clients`, `refused`, `dropped` or `pool_timeout`; None if not transient."""
    if isinstance(exc, sa_exc.TimeoutError):  # QueuePool stayed empty for pool_timeout
        return "pool_timeout"
    if isinstance(exc, sa_exc.DisconnectionError):
        return "dropped"
    orig: BaseException | None = exc
    invalidated = False
    if isinstance(exc, sa_exc.DBAPIError):
        orig, invalidated = exc.orig, exc.connection_invalidated
    if not isinstance(orig, psycopg.OperationalError | psycopg.InterfaceError):
        return "dropped" if invalidated else None
    state = getattr(orig, "sqlstate", None) or ""
    message = str(orig).lower()
    # "too many clients" arrives inside "connection failed: ...": test it first
    if state == "53300" or any(s in message for s in _TOO_MANY):
        return "too_many_clients"
    if invalidated or state in _DROPPED_STATES or state.startswith("08"):
        return "dropped"
    if any(s in message for s in _DROPPED):
        return "dropped"
    if state in _REFUSED_STATES or any(s in message for s in _REFUSED):
        return "refused"
    return None


def note_error(kind: str) -> None:
    """Count one connection fault of `kind` (read by the metrics at scrape time)."""
    with _counts_lock:
        _counts[kind] += 1


def connection_errors() -> dict[str, int]:
    """Connection faults this process met since it started, by kind."""
    with _counts_lock:
        return dict(_counts)


def backoff_s(attempt: int, policy: DbRetryConfig, rand: Callable[[], float]) -> float:
    """The pause after failed attempt `attempt` (1-based): half fixed, half jitter."""
    step = min(policy.max_delay_s, policy.base_delay_s * 2.0 ** (attempt - 1))
    return step / 2 + rand() * step / 2


def retry_transient(
    op: str,
    fn: Callable[[], T],
    *,
    max_wall_s: float | None = None,
    policy: DbRetryConfig | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    rand: Callable[[], float] = random.random,
) -> T:
    """Run `fn`; after a transient connection fault run it again, within a bounded time."""
    cfg = policy or get_settings().app.db_retry
    deadline = clock() + (cfg.max_wall_s if max_wall_s is None else max_wall_s)
    attempt = 0
    while True:
        attempt += 1
        try:
            return fn()
        except (sa_exc.SQLAlchemyError, psycopg.Error) as exc:
            kind = transient_kind(exc)
            if kind is None:
                raise
            if kind == "pool_timeout":  # the engine's handle_error never sees these
                note_error(kind)
            delay = backoff_s(attempt, cfg, rand)
            if clock() + delay > deadline:
                log.warning("db_retry_gave_up", op=op, kind=kind, attempts=attempt)
                raise
            log.info("db_retry", op=op, kind=kind, attempt=attempt, delay_s=round(delay, 3))
            sleep(delay)


def with_transient_retry(
    op: str, *, max_wall_s: float | None = None
) -> Callable[[Callable[P, T]], Callable[P, T]]:
    """Decorate a function that opens its own session so transient faults retry it."""

    def decorate(fn: Callable[P, T]) -> Callable[P, T]:
        @functools.wraps(fn)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
            return retry_transient(op, lambda: fn(*args, **kwargs), max_wall_s=max_wall_s)

        return wrapper

    return decorate
