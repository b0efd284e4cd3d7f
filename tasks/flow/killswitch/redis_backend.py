"""The kill switch on Redis: the `tasks.flow.keys.KILLSWITCH` key, set = on."""

from __future__ import annotations

import time
from collections.abc import Callable

import redis

from tasks.flow import keys
from tasks.flow.killswitch.core import CachedKillSwitch


class RedisSwitchBackend:
    """`SwitchBackend` on one Redis key."""

    errors: tuple[type[Exception], ...] = (redis.RedisError,)

    def __init__(self, client: redis.Redis) -> None:
        self._client = client

    def get(self) -> bytes | None:
        """The key's value, or None while the switch is off."""
        raw = self._client.get(keys.KILLSWITCH)
        return raw if isinstance(raw, bytes) or raw is None else str(raw).encode()

    def put(self, raw: bytes | None) -> None:
        """Set the key (on), or delete it (None: off)."""
        if raw is None:
            self._client.delete(keys.KILLSWITCH)
        else:
            self._client.set(keys.KILLSWITCH, raw)


class RedisKillSwitch(CachedKillSwitch):
    """`tasks.engine.ports.KillSwitch` backed by the `dq:killswitch` key (set = on)."""

    def __init__(
        self,
        client: redis.Redis,
        *,
        cache_s: float = 0.5,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(RedisSwitchBackend(client), cache_s=cache_s, clock=clock)
