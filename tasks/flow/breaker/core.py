"""The breaker's client side (who holds the half-open probe), apart from the shared state.

Half-open is not stored: it is "open and the cool-down has passed". Only the caller that
claimed the probe moves the breaker out of it; results of other calls that land while the
breaker is open are ignored (they began before it opened).
"""

from __future__ import annotations

import threading
import uuid
from typing import Protocol

from schemas.config import BreakerConfig


class BreakerBackend(Protocol):
    """The atomic transitions of one breaker per model, on the backend's own clock."""

    def allow(self, *, model: str, cooldown_s: float, probe_ttl_ms: int, token: str) -> bool:
        """Closed: True. Open: False until the cool-down passed, then True for one probe."""
        ...

    def record(self, *, model: str, ok: bool, token: str, config: BreakerConfig) -> str:
        """Count one call (or settle the probe `token`); the state after it."""
        ...

    def state(self, *, model: str, cooldown_s: float) -> str:
        """'closed', 'open' or 'half_open'."""
        ...

    def opened_total(self, model: str) -> int:
        """How many times the breaker for `model` has opened."""
        ...

    def reset(self, model: str) -> None:
        """Force it closed and clear its window and probe (the total stays)."""
        ...


class Breaker:
    """`tasks.engine.ports.CircuitBreaker` over a backend that does every transition atomically."""

    def __init__(
        self, backend: BreakerBackend, config: BreakerConfig, *, probe_ttl_s: float = 60.0
    ) -> None:
        self._backend = backend
        self._config = config
        self._probe_ttl_ms = max(1, int(probe_ttl_s * 1000))
        # The probe token this thread claimed, per model (Celery's threads pool: a task
        # calls allow() and record() on the same thread).
        self._local = threading.local()

    def _tokens(self) -> dict[str, str]:
        tokens: dict[str, str] | None = getattr(self._local, "tokens", None)
        if tokens is None:
            tokens = self._local.tokens = {}
        return tokens

    @property
    def config(self) -> BreakerConfig:
        """The thresholds and cool-down every transition uses."""
        return self._config

    @property
    def probe_ttl_ms(self) -> int:
        """How long a claimed half-open probe stays claimed without an outcome."""
        return self._probe_ttl_ms

    def allow(self, *, model: str) -> bool:
        """Whether a call to `model` may go out now (closed, or the half-open probe)."""
        token = uuid.uuid4().hex
        allowed = self._backend.allow(
            model=model,
            cooldown_s=self._config.cooldown_s,
            probe_ttl_ms=self._probe_ttl_ms,
            token=token,
        )
        self.adopt(model=model, token=token, allowed=allowed)
        return allowed

    def adopt(self, *, model: str, token: str, allowed: bool) -> None:
        """Take the outcome of an `allow` with `token` done by another script (the call gate)."""
        tokens = self._tokens()
        if allowed:
            tokens[model] = token
        else:
            tokens.pop(model, None)

    def forget(self, *, model: str, token: str) -> None:
        """Drop this thread's `token` for `model`: its outcome was recorded by another script."""
        tokens = self._tokens()
        if tokens.get(model) == token:
            del tokens[model]

    def record(self, *, model: str, ok: bool) -> None:
        """Feed back one call's health (and settle the probe if this thread holds it)."""
        token = self._tokens().pop(model, "")
        self._backend.record(model=model, ok=ok, token=token, config=self._config)

    def state(self, model: str) -> str:
        """'closed', 'open' or 'half_open', as of the backend's clock."""
        return self._backend.state(model=model, cooldown_s=self._config.cooldown_s)

    def opened_total(self, model: str) -> int:
        """How many times the breaker for `model` has opened (probe failures included)."""
        return self._backend.opened_total(model)

    def reset(self, model: str) -> None:
        """Force the breaker closed and clear its window (operator action; keeps the total)."""
        self._backend.reset(model)
