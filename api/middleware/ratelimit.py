"""Per-tenant API request rate limit: GCRA in one Redis script, shared by every API process.

GCRA keeps one number per tenant (the theoretical arrival time): a tenant may send `burst`
requests at once, then `rate` per second. Times come from Redis TIME, so API hosts with
drifting clocks agree. If Redis does not answer, requests pass (fail open): the limit
protects capacity, and an outage of the limiter must not become an outage of the API.
"""

from __future__ import annotations

import math
import uuid
from functools import lru_cache

import redis
import structlog

from api.errors import ApiError
from schemas.config import get_settings
from tasks.flow.connection import redis_client
from tasks.observability.collector import RATE_LIMITED_KEY

log = structlog.get_logger(__name__)

# KEYS: the tenant's TAT (one key: legal on Redis Cluster). ARGV: interval_ms, burst.
# Returns 0 when the request may pass, else the milliseconds until it would.
_GCRA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local interval = tonumber(ARGV[1])
local tolerance = interval * tonumber(ARGV[2])
local tat = math.max(tonumber(redis.call('GET', KEYS[1]) or now), now)
local allow_at = tat + interval - tolerance
if allow_at > now then
  return math.max(1, math.ceil(allow_at - now))
end
redis.call('SET', KEYS[1], string.format('%.3f', tat + interval), 'PX', math.ceil(tolerance) + 1000)
return 0
"""


class RequestRateLimiter:
    """GCRA limiter: `burst` requests at once, then `rate_per_s` sustained, per key."""

    def __init__(self, client: redis.Redis, *, rate_per_s: float, burst: int) -> None:
        if rate_per_s <= 0 or burst < 1:
            raise ValueError("need rate_per_s > 0 and burst >= 1")
        self.rate_per_s, self.burst = rate_per_s, burst
        self._interval_ms = 1000.0 / rate_per_s
        self._client = client
        self._script = client.register_script(_GCRA)

    def wait_s(self, key: str) -> float:
        """Take one request for `key`: 0 if it may pass, else seconds until it may."""
        wait_ms = int(self._script(keys=[f"dq:api:rl:{key}"], args=[self._interval_ms, self.burst]))
        if wait_ms:
            self._client.incr(RATE_LIMITED_KEY)  # docqueue_api_rate_limited_total
        return wait_ms / 1000


@lru_cache(maxsize=4)
def _limiter(redis_url: str, rate_per_s: float, burst: int) -> RequestRateLimiter:
    client = redis_client(redis_url, socket_timeout=0.5, socket_connect_timeout=0.5)
    return RequestRateLimiter(client, rate_per_s=rate_per_s, burst=burst)


def enforce(tenant_id: uuid.UUID) -> None:
    """Raise a 429 ApiError (with Retry-After) when the tenant is over its request rate."""
    settings = get_settings()
    if settings.api_rate_per_s <= 0:
        return  # disabled
    limiter = _limiter(settings.redis_url, settings.api_rate_per_s, settings.api_burst)
    try:
        wait = limiter.wait_s(str(tenant_id))
    except redis.RedisError as exc:
        log.warning("rate_limit_unavailable", error=type(exc).__name__)
        return
    if wait > 0:
        raise ApiError(
            429,
            "rate_limited",
            f"over {limiter.rate_per_s:g} requests/s (burst {limiter.burst}); "
            f"retry in {wait:.2f} s",
            headers={"Retry-After": str(max(1, math.ceil(wait)))},
        )
