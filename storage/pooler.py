"""Running behind a transaction pooler (PgBouncer `pool_mode = transaction`).

Through such a pooler each transaction may run on a different server connection, so:

- no prepared statements: psycopg's are per server connection (every engine turns them
  off, `prepare_threshold=None`; docqueue's statements are short and plan in microseconds);
- no startup `options`: PgBouncer 1.18 refuses them, so the statement timeout comes from
  the pooler (`connect_query`) or the role (`ALTER ROLE ... SET statement_timeout`);
- no session state: LISTEN and the leaders' session-level advisory locks (the scheduler,
  the batcher) need a connection of their own, DATABASE_LISTEN_URL, that goes straight to
  Postgres. Everything else is per transaction (`pg_advisory_xact_lock`, `SET LOCAL`).

DATABASE_URL counts as pooled when DATABASE_POOL_MODE=transaction, or when a separate
DATABASE_LISTEN_URL is given (that is what it is for). A pooler that refuses the startup
options is also recognised at connect time: the engine then connects without them, once
logged.
"""

from __future__ import annotations

from typing import Any

import psycopg
import structlog
from sqlalchemy import Engine, event

from schemas.config import Settings

log = structlog.get_logger(__name__)
_REFUSED = "unsupported startup parameter"


def behind_pooler(url: str, settings: Settings) -> bool:
    """True when `url` is this process's DATABASE_URL and that names a transaction pooler."""
    if url != settings.database_url:
        return False
    if settings.database_pool_mode == "transaction":
        return True
    listen = settings.database_listen_url or None  # an empty value counts as unset
    return listen is not None and listen != settings.database_url


def libpq_url(url: str) -> str:
    """A SQLAlchemy psycopg URL as a plain libpq one (for psycopg.connect)."""
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def session_url(settings: Settings) -> str | None:
    """Where session state holds (LISTEN, session locks); None: only a pooler was given."""
    if settings.database_listen_url:
        return libpq_url(settings.database_listen_url)
    if behind_pooler(settings.database_url, settings):
        return None
    return libpq_url(settings.database_url)


def connect_without_refused_options(engine: Engine) -> None:
    """Connect without startup `options` when the server (a pooler) refuses them."""

    @event.listens_for(engine, "do_connect")
    def _connect(dialect: Any, _record: Any, cargs: list[Any], cparams: dict[str, Any]) -> Any:
        if "options" not in cparams:
            return None  # the default connect
        try:
            return dialect.connect(*cargs, **cparams)
        except psycopg.OperationalError as exc:
            if _REFUSED not in str(exc):
                raise
            # cparams is the engine's own dict: later connects go without the options too
            del cparams["options"]
            log.warning(
                "db_pooler_refused_options",
                detail="connecting without -c statement_timeout: set it in the pooler's "
                "connect_query or with ALTER ROLE ... SET statement_timeout",
            )
            return dialect.connect(*cargs, **cparams)
