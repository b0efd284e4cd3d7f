"""The semaphore in one process's memory: the Redis scripts' semantics under one lock.

For unit tests of the logic above it; `clock` (seconds) stands in for Redis ``TIME``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Unpack

from tasks.flow.semaphore.core import LeaseLimiter, LeaseTimings


@dataclass
class _Grant:
    expires_ms: float
    fence: int


@dataclass
class _Semaphore:
    leases: dict[str, _Grant] = field(default_factory=dict)
    waiters: dict[str, int] = field(default_factory=dict)  # token -> ticket; insertion = order
    waiter_expiry: dict[str, float] = field(default_factory=dict)
    woken: set[str] = field(default_factory=set)  # a pending wake-up per waiter, like the lists
    ticket: int = 0  # tickets and fences share one counter, as in Redis
    expired: int = 0

    def reap(self, now_ms: float) -> None:
        """Drop expired leases (counting them) and waiters that stopped polling."""
        gone = [t for t, g in self.leases.items() if g.expires_ms <= now_ms]
        for token in gone:
            del self.leases[token]
        self.expired += len(gone)
        for token in [t for t, at in self.waiter_expiry.items() if at <= now_ms]:
            self.leave_line(token)

    def leave_line(self, token: str) -> None:
        """Forget `token` as a waiter."""
        self.waiters.pop(token, None)
        self.waiter_expiry.pop(token, None)
        self.woken.discard(token)

    def wake(self, n: int) -> None:
        """Give the first `n` waiters a wake-up."""
        self.woken.update(list(self.waiters)[: max(0, n)])


class MemorySlotBackend:
    """`SlotBackend` in memory, thread-safe; share one between limiters to share slots."""

    errors: tuple[type[Exception], ...] = ()  # nothing here fails like a network does

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._cond = threading.Condition()
        self._semaphores: dict[str, _Semaphore] = {}

    def _now_ms(self) -> float:
        return self._clock() * 1000

    def _reaped(self, key: str) -> tuple[_Semaphore, float]:
        now = self._now_ms()
        sem = self._semaphores.setdefault(key, _Semaphore())
        sem.reap(now)
        return sem, now

    def grant(self, *, key: str, cap: int, token: str, lease_ms: int, waiter_ms: int) -> int:
        """Join (or stay in) the line; the fence (> 0) if a slot is granted, else 0."""
        with self._cond:
            sem, now = self._reaped(key)
            if token in sem.leases:
                return sem.leases[token].fence
            if token not in sem.waiters:
                sem.ticket += 1
                sem.waiters[token] = sem.ticket
            sem.waiter_expiry[token] = now + waiter_ms
            free = cap - len(sem.leases)
            if free <= 0:
                return 0
            if list(sem.waiters).index(token) >= free:
                sem.wake(free)  # the heads own these slots
                self._cond.notify_all()
                return 0
            sem.ticket += 1
            fence = sem.ticket
            sem.leases[token] = _Grant(expires_ms=now + lease_ms, fence=fence)
            sem.leave_line(token)
            sem.wake(free - 1)
            self._cond.notify_all()
            return fence

    def wait(self, *, key: str, token: str, timeout_s: float) -> None:
        """Block until `token` is woken (a slot may be free) or `timeout_s` passes."""
        with self._cond:
            sem = self._semaphores.setdefault(key, _Semaphore())
            self._cond.wait_for(lambda: token in sem.woken, timeout_s)
            sem.woken.discard(token)

    def release(self, *, key: str, cap: int, token: str, waiter_ms: int) -> bool:
        """Drop the lease or the place in line of `token`; True if it held a live lease."""
        with self._cond:
            sem, _ = self._reaped(key)
            held = sem.leases.pop(token, None) is not None
            sem.leave_line(token)
            sem.wake(cap - len(sem.leases))
            self._cond.notify_all()
            return held

    def renew(self, *, key: str, tokens: list[str], lease_ms: int) -> list[str]:
        """Extend the live leases among `tokens`; return the ones already lost."""
        with self._cond:
            now = self._now_ms()
            sem = self._semaphores.setdefault(key, _Semaphore())
            lost = []
            for token in tokens:
                grant = sem.leases.get(token)
                if grant is not None and grant.expires_ms > now:
                    grant.expires_ms = now + lease_ms
                    continue
                if grant is not None:  # expired but not yet reaped: reap it, never resurrect
                    del sem.leases[token]
                    sem.expired += 1
                lost.append(token)
            return lost

    def in_use(self, key: str) -> int:
        """Number of live (unexpired) leases on `key`."""
        with self._cond:
            now = self._now_ms()
            sem = self._semaphores.get(key, _Semaphore())
            return sum(g.expires_ms > now for g in sem.leases.values())

    def expired_total(self, key: str) -> int:
        """How many leases on `key` ever expired unreleased."""
        with self._cond:
            return self._semaphores.get(key, _Semaphore()).expired

    def waiting(self, key: str) -> int:
        """How many callers stand in line for `key` (dead ones until they are purged)."""
        with self._cond:
            return len(self._semaphores.get(key, _Semaphore()).waiters)


class MemorySlotLimiter(LeaseLimiter):
    """SlotLimiter in memory, for unit tests: same caps, order, expiry and heartbeat."""

    def __init__(
        self,
        *,
        backend: MemorySlotBackend | None = None,
        **timings: Unpack[LeaseTimings],
    ) -> None:
        super().__init__(backend or MemorySlotBackend(), **timings)
