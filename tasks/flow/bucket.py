"""Tokens-per-minute bucket per model in Redis, shared by every worker on every machine."""

from __future__ import annotations

import random
import time

import redis

from tasks.errors import SlotTimeout

# Shared prelude: refill continuously on Redis's clock (never a worker's, they drift) up to
# the capacity, which is per_minute itself so a quiet minute can be spent in one burst.
# A missing bucket is a full one, so expiring idle buckets loses nothing.
# KEYS: bucket hash. ARGV[1]: per_minute.
_REFILL = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local cap = tonumber(ARGV[1])
local rate = cap / 60000
local state = redis.call('HMGET', KEYS[1], 'level', 'ts')
local level = tonumber(state[1]) or cap
local ts = tonumber(state[2]) or now
level = math.min(cap, level + math.max(0, now - ts) * rate)
local function save()
  redis.call('HSET', KEYS[1], 'level', level, 'ts', now)
  redis.call('PEXPIRE', KEYS[1], math.ceil((cap - level) / rate) + 1000)
end
"""

# ARGV[2]: tokens. Returns 0 when taken, else the milliseconds until they would fit.
_TAKE = (
    _REFILL
    + """
local want = tonumber(ARGV[2])
-- more than the capacity passes once the bucket is full (and leaves it in debt),
-- otherwise such a request could never be served
if want <= level or level >= cap then
  level = level - want
  save()
  return 0
end
save()
return math.max(1, math.ceil((math.min(want, cap) - level) / rate))
"""
)

# ARGV[2]: tokens to give back (negative: to deduct). Returns the new level, floored.
_CORRECT = (
    _REFILL
    + """
level = math.min(cap, level + tonumber(ARGV[2]))
save()
return math.floor(level)
"""
)


class RedisTokenBucket:
    """RateLimiter on Redis: a continuously refilled tokens-per-minute bucket per key."""

    def __init__(
        self, client: redis.Redis, *, timeout_s: float = 120.0, max_sleep_s: float = 1.0
    ) -> None:
        self._client = client
        self._timeout_s = timeout_s
        # re-check at least this often: a correction elsewhere may hand tokens back early
        self._max_sleep_s = max_sleep_s
        self._take = client.register_script(_TAKE)
        self._correct = client.register_script(_CORRECT)

    @staticmethod
    def _key(key: str) -> str:
        return f"dq:tpm:{key}"

    def take(self, *, key: str, tokens: int, per_minute: int) -> None:
        """Block until `tokens` fit in `key`'s bucket; raise SlotTimeout after `timeout_s`."""
        if per_minute <= 0:
            raise ValueError(f"per_minute must be > 0, got {per_minute}")
        if tokens <= 0:
            return
        deadline = time.monotonic() + self._timeout_s
        while True:
            wait_ms = int(self._take(keys=[self._key(key)], args=[per_minute, tokens]))
            if wait_ms <= 0:
                return
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise SlotTimeout(
                    f"{tokens} tokens for {key!r} did not fit {per_minute}/min "
                    f"within {self._timeout_s}s"
                )
            # jitter so that workers stalled on the same bucket do not retry in lockstep
            pause = wait_ms / 1000 * random.uniform(1.0, 1.1)
            time.sleep(min(pause, self._max_sleep_s, remaining))

    def correct(self, *, key: str, estimated: int, actual: int, per_minute: int) -> None:
        """Give back unused tokens, or deduct the overrun, once the real usage is known."""
        if per_minute <= 0:
            raise ValueError(f"per_minute must be > 0, got {per_minute}")
        if estimated != actual:
            self._correct(keys=[self._key(key)], args=[per_minute, estimated - actual])

    def level(self, *, key: str, per_minute: int) -> int:
        """Tokens available in `key`'s bucket right now (negative while in debt)."""
        return int(self._correct(keys=[self._key(key)], args=[per_minute, 0]))
