"""Tokens-per-minute bucket per model in Redis, shared by every worker on every machine.

The bucket refills on Redis's clock (never a worker's, they drift); an idle bucket expires
once it would be full again, which loses nothing because a missing bucket is a full one.
"""

from __future__ import annotations

import redis

from tasks.flow import keys
from tasks.flow.bucket.core import TokenBucket
from tasks.flow.lua import source

_TAKE = source("bucket_refill", "bucket_take")
_CORRECT = source("bucket_refill", "bucket_correct")


class RedisBucketBackend:
    """`BucketBackend` on Redis: one Lua script per step."""

    def __init__(self, client: redis.Redis) -> None:
        self._take = client.register_script(_TAKE)
        self._correct = client.register_script(_CORRECT)

    def take(self, *, key: str, tokens: int, per_minute: int) -> int:
        """Take `tokens` if they fit: 0, else the milliseconds until they would."""
        return int(self._take(keys=[keys.bucket(key)], args=[per_minute, tokens]))

    def correct(self, *, key: str, delta: int, per_minute: int) -> int:
        """Add `delta` tokens (negative: deduct), capped; return the new level, floored."""
        return int(self._correct(keys=[keys.bucket(key)], args=[per_minute, delta]))


class RedisTokenBucket(TokenBucket):
    """RateLimiter on Redis: a continuously refilled tokens-per-minute bucket per key."""

    def __init__(
        self, client: redis.Redis, *, timeout_s: float = 120.0, max_sleep_s: float = 1.0
    ) -> None:
        super().__init__(RedisBucketBackend(client), timeout_s=timeout_s, max_sleep_s=max_sleep_s)
