"""The tokens-per-minute bucket in memory: the Redis scripts' arithmetic under one lock.

For unit tests; `clock` (seconds) stands in for Redis ``TIME``.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from tasks.flow.bucket.core import TokenBucket


@dataclass
class _Level:
    level: float
    ts_ms: float
    expires_ms: float  # like the Redis key's PEXPIRE: once full again, the bucket is gone


class MemoryBucketBackend:
    """`BucketBackend` in memory, thread-safe; share one between buckets to share budgets."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._buckets: dict[str, _Level] = {}

    def _refilled(self, key: str, per_minute: int) -> tuple[float, float]:
        """(now in ms, the level refilled up to now); call under the lock."""
        now = self._clock() * 1000
        state = self._buckets.get(key)
        if state is None or now > state.expires_ms:
            return now, float(per_minute)
        gained = max(0.0, now - state.ts_ms) * per_minute / 60000
        return now, min(float(per_minute), state.level + gained)

    def _save(self, key: str, level: float, per_minute: int, now: float) -> None:
        full_in_ms = math.ceil((per_minute - level) / (per_minute / 60000))
        self._buckets[key] = _Level(level=level, ts_ms=now, expires_ms=now + full_in_ms + 1000)

    def take(self, *, key: str, tokens: int, per_minute: int) -> int:
        """Take `tokens` if they fit: 0, else the milliseconds until they would."""
        with self._lock:
            now, level = self._refilled(key, per_minute)
            if tokens <= level or level >= per_minute:
                self._save(key, level - tokens, per_minute, now)
                return 0
            self._save(key, level, per_minute, now)
            return max(1, math.ceil((min(tokens, per_minute) - level) / (per_minute / 60000)))

    def correct(self, *, key: str, delta: int, per_minute: int) -> int:
        """Add `delta` tokens (negative: deduct), capped; return the new level, floored."""
        with self._lock:
            now, level = self._refilled(key, per_minute)
            level = min(float(per_minute), level + delta)
            self._save(key, level, per_minute, now)
            return math.floor(level)


class MemoryTokenBucket(TokenBucket):
    """RateLimiter in memory, for unit tests: the same refill, debt and correction rules."""

    def __init__(
        self,
        *,
        backend: MemoryBucketBackend | None = None,
        timeout_s: float = 120.0,
        max_sleep_s: float = 1.0,
    ) -> None:
        super().__init__(
            backend or MemoryBucketBackend(), timeout_s=timeout_s, max_sleep_s=max_sleep_s
        )
