"""The circuit breaker in memory: the Redis scripts' transitions under one lock.

For unit tests; `clock` (seconds) stands in for Redis ``TIME``.
"""

from __future__ import annotations

import math
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from schemas.config import BreakerConfig
from tasks.flow.breaker.core import Breaker


@dataclass
class _Model:
    open: bool = False
    opened_at: float = 0.0
    consec: int = 0
    opened_total: int = 0
    calls: Counter[int] = field(default_factory=Counter)  # per whole second
    fails: Counter[int] = field(default_factory=Counter)
    window_expires: float = math.inf  # like the window hash's PEXPIRE
    probe: str | None = None
    probe_expires: float = 0.0

    def clear(self) -> None:
        """Forget the window and the probe."""
        self.calls.clear()
        self.fails.clear()
        self.probe = None

    def trip(self, now: float) -> str:
        """Open (again), with a fresh cool-down."""
        self.open, self.opened_at, self.consec = True, now, 0
        self.opened_total += 1
        self.clear()
        return "open"


class MemoryBreakerBackend:
    """`BreakerBackend` in memory, thread-safe; share one between breakers to share state."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._models: dict[str, _Model] = {}

    def _model(self, model: str, now: float) -> _Model:
        m = self._models.setdefault(model, _Model())
        if m.probe is not None and now >= m.probe_expires:
            m.probe = None
        if now >= m.window_expires:
            m.calls.clear()
            m.fails.clear()
        return m

    def allow(self, *, model: str, cooldown_s: float, probe_ttl_ms: int, token: str) -> bool:
        """Closed: True. Open: False until the cool-down passed, then True for one probe."""
        with self._lock:
            now = self._clock()
            m = self._model(model, now)
            if not m.open:
                return True
            if now < m.opened_at + cooldown_s or m.probe is not None:
                return False
            m.probe, m.probe_expires = token, now + probe_ttl_ms / 1000
            return True

    def record(self, *, model: str, ok: bool, token: str, config: BreakerConfig) -> str:
        """Count one call (or settle the probe `token`); the state after it."""
        with self._lock:
            now = self._clock()
            m = self._model(model, now)
            if m.open:
                is_probe = token != "" and m.probe == token
                if not is_probe or now < m.opened_at + config.cooldown_s:
                    return "open"
                if not ok:
                    return m.trip(now)
                m.open, m.consec = False, 0
                m.clear()
                return "closed"
            sec = math.floor(now)
            m.calls[sec] += 1
            if ok:
                m.consec = 0
            else:
                m.fails[sec] += 1
                m.consec += 1
            m.window_expires = now + config.window_s + 1
            for old in [s for s in m.calls if s <= sec - config.window_s]:
                del m.calls[old], m.fails[old]
            calls, fails = m.calls.total(), m.fails.total()
            if m.consec >= config.failure_threshold:
                return m.trip(now)
            if calls >= config.min_calls and fails / calls >= config.error_rate:
                return m.trip(now)
            return "closed"

    def state(self, *, model: str, cooldown_s: float) -> str:
        """'closed', 'open' or 'half_open'."""
        with self._lock:
            now = self._clock()
            m = self._model(model, now)
            if not m.open:
                return "closed"
            return "open" if now < m.opened_at + cooldown_s else "half_open"

    def opened_total(self, model: str) -> int:
        """How many times the breaker for `model` has opened."""
        with self._lock:
            return self._models.get(model, _Model()).opened_total

    def reset(self, model: str) -> None:
        """Force it closed and clear its window and probe (the total stays)."""
        with self._lock:
            m = self._models.setdefault(model, _Model())
            m.open, m.consec = False, 0
            m.clear()


class MemoryCircuitBreaker(Breaker):
    """CircuitBreaker in memory, for unit tests: same thresholds, cool-down and probe."""

    def __init__(
        self,
        config: BreakerConfig,
        *,
        backend: MemoryBreakerBackend | None = None,
        probe_ttl_s: float = 60.0,
    ) -> None:
        super().__init__(backend or MemoryBreakerBackend(), config, probe_ttl_s=probe_ttl_s)
