"""The tokens-per-minute bucket's waiting loop, apart from the backend that holds the level."""

from __future__ import annotations

import random
import time
from typing import Protocol

from tasks.errors import SlotTimeout


class BucketBackend(Protocol):
    """The atomic steps of a bucket that refills continuously up to `per_minute` tokens.

    A missing bucket is a full one; more than the capacity may be taken from a full bucket
    (leaving it in debt), or such a request could never be served.
    """

    def take(self, *, key: str, tokens: int, per_minute: int) -> int:
        """Take `tokens` if they fit: 0, else the milliseconds until they would."""
        ...

    def correct(self, *, key: str, delta: int, per_minute: int) -> int:
        """Add `delta` tokens (negative: deduct), capped; return the new level, floored."""
        ...


class TokenBucket:
    """RateLimiter over a backend: a continuously refilled tokens-per-minute bucket per key."""

    def __init__(
        self, backend: BucketBackend, *, timeout_s: float = 120.0, max_sleep_s: float = 1.0
    ) -> None:
        self._backend = backend
        self._timeout_s = timeout_s
        # re-check at least this often: a correction elsewhere may hand tokens back early
        self._max_sleep_s = max_sleep_s

    def take(self, *, key: str, tokens: int, per_minute: int) -> None:
        """Block until `tokens` fit in `key`'s bucket; raise SlotTimeout after `timeout_s`."""
        self.take_after(key=key, tokens=tokens, per_minute=per_minute, wait_ms=0)

    def take_after(self, *, key: str, tokens: int, per_minute: int, wait_ms: int) -> None:
        """`take`, for a caller another script just told to wait `wait_ms`: sleep first."""
        if per_minute <= 0:
            raise ValueError(f"per_minute must be > 0, got {per_minute}")
        if tokens <= 0:
            return
        deadline = time.monotonic() + self._timeout_s
        while True:
            if wait_ms <= 0:
                wait_ms = self._backend.take(key=key, tokens=tokens, per_minute=per_minute)
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
            wait_ms = 0

    def correct(self, *, key: str, estimated: int, actual: int, per_minute: int) -> None:
        """Give back unused tokens, or deduct the overrun, once the real usage is known."""
        if per_minute <= 0:
            raise ValueError(f"per_minute must be > 0, got {per_minute}")
        if estimated != actual:
            self._backend.correct(key=key, delta=estimated - actual, per_minute=per_minute)

    def level(self, *, key: str, per_minute: int) -> int:
        """Tokens available in `key`'s bucket right now (negative while in debt)."""
        return self._backend.correct(key=key, delta=0, per_minute=per_minute)
