"""Crash-safe distributed counting semaphore on Redis: expiring leases, FIFO waiters, heartbeat.

Hand-rolled on purpose: no well-kept library does leases with fencing numbers, FIFO-fair
waiting without polling storms and one shared heartbeat (redis-py's Lock is a mutex; the PyPI
semaphore packages are unmaintained, spin, or trust the client's clock). All keys of one
semaphore share the hash tag ``{key}`` so the multi-key scripts stay legal on Redis Cluster;
all times come from Redis ``TIME``, because many machines with drifting clocks share a lease set.
"""

from __future__ import annotations

from typing import Unpack

import redis

from tasks.flow import keys
from tasks.flow.connection import run_replicated
from tasks.flow.lua import source
from tasks.flow.semaphore.core import LeaseLimiter, LeaseTimings

_ACQUIRE = source("semaphore_reap", "semaphore_acquire")
_RELEASE = source("semaphore_reap", "semaphore_release")
_RENEW = source("semaphore_renew")
_IN_USE = source("semaphore_in_use")


class RedisSlotBackend:
    """`SlotBackend` on Redis: each step is one Lua script, timed by Redis's clock."""

    errors: tuple[type[Exception], ...] = (redis.RedisError,)

    def __init__(self, client: redis.Redis, *, replicas: int = 0) -> None:
        self._client = client
        self._replicas = replicas  # Sentinel: a grant waits for a replica (flow/connection.py)
        self._acquire = client.register_script(_ACQUIRE)
        self._release = client.register_script(_RELEASE)
        self._renew = client.register_script(_RENEW)
        self._in_use = client.register_script(_IN_USE)

    def grant(self, *, key: str, cap: int, token: str, lease_ms: int, waiter_ms: int) -> int:
        """Join (or stay in) the line; the fence (> 0) if a slot is granted, else 0."""
        k = keys.semaphore(key)
        args: list[str | int] = [token, cap, lease_ms, waiter_ms, k.wake_prefix]
        fence = run_replicated(
            self._acquire, self._client, keys=k.script_keys, args=args, replicas=self._replicas
        )
        return int(fence)

    def wait(self, *, key: str, token: str, timeout_s: float) -> None:
        """Block on this waiter's wake-up list until a release pushes to it, or the timeout."""
        self._client.blpop([keys.semaphore(key).wake_prefix + token], timeout=timeout_s)

    def release(self, *, key: str, cap: int, token: str, waiter_ms: int) -> bool:
        """Drop the lease or the place in line of `token`; True if it held a live lease."""
        k = keys.semaphore(key)
        return bool(self._release(keys=k.script_keys, args=[token, cap, k.wake_prefix, waiter_ms]))

    def renew(self, *, key: str, tokens: list[str], lease_ms: int) -> list[str]:
        """Extend the live leases among `tokens`; return the ones already lost."""
        lost = self._renew(keys=keys.semaphore(key).script_keys, args=[lease_ms, *tokens])
        return [t.decode() if isinstance(t, bytes) else t for t in lost]

    def in_use(self, key: str) -> int:
        """Number of live (unexpired) leases on `key`."""
        return int(self._in_use(keys=[keys.semaphore(key).leases]))

    def expired_total(self, key: str) -> int:
        """How many leases on `key` ever expired unreleased."""
        raw = self._client.get(keys.semaphore(key).expired)
        return int(raw) if raw is not None else 0

    def waiting(self, key: str) -> int:
        """How many callers stand in line for `key` (dead ones until they are purged)."""
        return int(self._client.zcard(keys.semaphore(key).waiters))


class RedisSlotLimiter(LeaseLimiter):
    """SlotLimiter on Redis: at most `cap` leases per key, granted in arrival order."""

    def __init__(self, client: redis.Redis, **timings: Unpack[LeaseTimings]) -> None:
        super().__init__(RedisSlotBackend(client), **timings)
