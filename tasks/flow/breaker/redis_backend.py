"""Per-model circuit breaker whose whole state lives in Redis, so every worker shares it.

The keys are in `tasks.flow.keys.breaker`; every transition is one Lua script timed by
Redis's clock, so workers on machines with drifting clocks agree on the cool-down.
"""

from __future__ import annotations

from typing import Any

import redis

from schemas.config import BreakerConfig
from tasks.flow import keys
from tasks.flow.breaker.core import Breaker
from tasks.flow.lua import source

_ALLOW = source("breaker_allow")
_RECORD = source("breaker_record")
_STATE = source("breaker_state")


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class RedisBreakerBackend:
    """`BreakerBackend` on Redis."""

    def __init__(self, client: redis.Redis) -> None:
        self._client = client
        self._allow = client.register_script(_ALLOW)
        self._record = client.register_script(_RECORD)
        self._state = client.register_script(_STATE)

    def allow(self, *, model: str, cooldown_s: float, probe_ttl_ms: int, token: str) -> bool:
        """Closed: True. Open: False until the cool-down passed, then True for one probe."""
        args: list[float | str] = [cooldown_s, probe_ttl_ms, token]
        return bool(self._allow(keys=keys.breaker(model).script_keys, args=args))

    def record(self, *, model: str, ok: bool, token: str, config: BreakerConfig) -> str:
        """Count one call (or settle the probe `token`); the state after it."""
        args = [
            1 if ok else 0,
            token,
            config.failure_threshold,
            config.error_rate,
            config.window_s,
            config.min_calls,
            config.cooldown_s,
        ]
        return _text(self._record(keys=keys.breaker(model).script_keys, args=args))

    def state(self, *, model: str, cooldown_s: float) -> str:
        """'closed', 'open' or 'half_open', as of Redis's clock."""
        return _text(self._state(keys=keys.breaker(model).script_keys, args=[cooldown_s]))

    def opened_total(self, model: str) -> int:
        """How many times the breaker for `model` has opened."""
        value = self._client.hget(keys.breaker(model).state, "opened_total")
        return int(_text(value)) if value is not None else 0

    def reset(self, model: str) -> None:
        """Force it closed and clear its window and probe (the total stays)."""
        k = keys.breaker(model)
        pipe = self._client.pipeline()
        pipe.hset(k.state, mapping={"state": "closed", "consec": 0})
        pipe.delete(k.win, k.probe)
        pipe.execute()


class RedisCircuitBreaker(Breaker):
    """`tasks.engine.ports.CircuitBreaker` with every transition done atomically in Lua."""

    def __init__(
        self, client: redis.Redis, config: BreakerConfig, *, probe_ttl_s: float = 60.0
    ) -> None:
        super().__init__(RedisBreakerBackend(client), config, probe_ttl_s=probe_ttl_s)
