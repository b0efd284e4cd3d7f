"""The kill switch as the API shows it: read once per request, never failing the request.

The workers own the switch (tasks/flow/killswitch); the API only reads its state through
the same backend, which loads Redis and no Celery (import-linter allows tasks.flow here).
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache

import redis
import structlog
from redis.backoff import NoBackoff
from redis.retry import Retry

from schemas.batch_api import KillSwitchOut
from tasks.flow.connection import redis_client
from tasks.flow.killswitch import RedisKillSwitch

log = structlog.get_logger(__name__)

# The state is informational here: an unreachable Redis costs a request at most this, once.
_TIMEOUT_S = 0.25


@lru_cache(maxsize=4)
def _switch(redis_url: str) -> RedisKillSwitch:
    client = redis_client(
        redis_url,
        socket_timeout=_TIMEOUT_S,
        socket_connect_timeout=_TIMEOUT_S,
        retry=Retry(NoBackoff(), 0),  # redis-py retries 3 times by default
    )
    return RedisKillSwitch(client)


def read_killswitch(redis_url: str) -> KillSwitchOut | None:
    """The switch's state, read fresh; None if Redis does not answer."""
    try:
        state = _switch(redis_url).status()
    except redis.RedisError as exc:
        log.warning("killswitch_unreadable", error=type(exc).__name__)
        return None
    if not state["on"]:
        return KillSwitchOut(on=False, reason=None, since=None)
    return KillSwitchOut(on=True, reason=state.get("reason") or None, since=_when(state["since"]))


def _when(since: object) -> dt.datetime | None:
    """Epoch seconds as a UTC datetime; None for a value someone set by hand."""
    if not isinstance(since, int | float):
        return None
    try:
        return dt.datetime.fromtimestamp(since, dt.UTC)
    except (OverflowError, OSError, ValueError):
        return None
