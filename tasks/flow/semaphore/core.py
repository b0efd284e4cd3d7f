"""The semaphore's algorithm, apart from its backend: FIFO waiting, leases, one heartbeat.

A backend (`SlotBackend`) does each step atomically (Redis: one Lua script; memory: one
lock); this module decides when to wait, when to give up and when a lease counts as lost.
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import NotRequired, Protocol, TypedDict

import structlog

from tasks.errors import SlotTimeout

# the name the semaphore always logged under, before it was split into a package
log = structlog.get_logger("tasks.flow.semaphore")


class SlotBackend(Protocol):
    """The atomic steps of a lease semaphore; all times are on the backend's own clock."""

    # failures `release` and a withdrawal log instead of raising (the lease expires anyway)
    errors: tuple[type[Exception], ...]

    def grant(self, *, key: str, cap: int, token: str, lease_ms: int, waiter_ms: int) -> int:
        """Join (or stay in) the line; the fence (> 0) if a slot is granted, else 0."""
        ...

    def wait(self, *, key: str, token: str, timeout_s: float) -> None:
        """Block until `token` is woken (a slot may be free) or `timeout_s` passes."""
        ...

    def release(self, *, key: str, cap: int, token: str, waiter_ms: int) -> bool:
        """Drop the lease or the place in line of `token`; True if it held a live lease."""
        ...

    def renew(self, *, key: str, tokens: list[str], lease_ms: int) -> list[str]:
        """Extend the live leases among `tokens`; return the ones already lost."""
        ...

    def in_use(self, key: str) -> int:
        """Number of live (unexpired) leases on `key`."""
        ...

    def expired_total(self, key: str) -> int:
        """How many leases on `key` ever expired unreleased."""
        ...

    def waiting(self, key: str) -> int:
        """How many callers stand in line for `key` (dead ones until they are purged)."""
        ...


class LeaseTimings(TypedDict):
    """The keyword arguments of every limiter: lease and waiter lifetimes, waiting limits."""

    lease_ttl_s: float
    heartbeat_s: float
    acquire_timeout_s: float
    poll_s: NotRequired[float]
    waiter_ttl_s: NotRequired[float]


@dataclass(eq=False)
class Lease:
    """One held slot: `fence` grows with every grant; `lost` is set if the lease expired."""

    key: str
    token: str
    fence: int
    lost: threading.Event = field(default_factory=threading.Event)


@dataclass(eq=False)
class _Group:
    leases: dict[str, Lease]
    due: float


class _Heartbeat:
    """The one renewal thread of this process, shared by every lease of every limiter."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._groups: dict[tuple[LeaseLimiter, str], _Group] = {}
        self._thread: threading.Thread | None = None

    def add(self, limiter: LeaseLimiter, lease: Lease) -> None:
        """Renew `lease` every `limiter.heartbeat_s` until discarded."""
        with self._cond:
            due = time.monotonic() + limiter.heartbeat_s
            group = self._groups.setdefault((limiter, lease.key), _Group({}, due))
            group.leases[lease.token] = lease
            if self._thread is None:  # started lazily; it exits again when nothing is held
                self._thread = threading.Thread(
                    target=self._run, name="dq-semaphore-heartbeat", daemon=True
                )
                self._thread.start()
            self._cond.notify()

    def discard(self, limiter: LeaseLimiter, lease: Lease) -> bool:
        """Stop renewing `lease`; False if it was not registered (already reported lost)."""
        with self._cond:
            group = self._groups.get((limiter, lease.key))
            if group is None or group.leases.pop(lease.token, None) is None:
                return False
            if not group.leases:
                del self._groups[(limiter, lease.key)]
            return True

    def _run(self) -> None:
        while True:
            with self._cond:
                while True:
                    if not self._groups:
                        self._thread = None
                        return
                    now = time.monotonic()
                    due = {gk: dict(g.leases) for gk, g in self._groups.items() if g.due <= now}
                    if due:
                        break
                    self._cond.wait(min(g.due for g in self._groups.values()) - now)
                for gk in due:  # a whole key per beat: one round trip per key, not per lease
                    self._groups[gk].due = now + gk[0].heartbeat_s
            for (limiter, key), leases in due.items():
                try:
                    lost = limiter.renew(key=key, tokens=list(leases))
                except Exception:  # a missed beat is retried at the next interval
                    log.warning("slot_renew_failed", key=key, exc_info=True)
                    continue
                for token in lost:
                    # a lease released while this beat was in flight is not "lost"
                    if self.discard(limiter, leases[token]):
                        leases[token].lost.set()
                        log.warning("slot_lease_lost", key=key, fence=leases[token].fence)


_HEARTBEAT = _Heartbeat()


def _reset_after_fork() -> None:
    # a forked child has no heartbeat thread and owns none of its parent's leases
    global _HEARTBEAT  # noqa: PLW0603
    _HEARTBEAT = _Heartbeat()


os.register_at_fork(after_in_child=_reset_after_fork)


class LeaseLimiter:
    """SlotLimiter over a backend: at most `cap` leases per key, granted in arrival order."""

    def __init__(
        self,
        backend: SlotBackend,
        *,
        lease_ttl_s: float,
        heartbeat_s: float,
        acquire_timeout_s: float,
        poll_s: float = 0.25,
        waiter_ttl_s: float = 2.0,
    ) -> None:
        if not 0 < heartbeat_s < lease_ttl_s:
            raise ValueError("need 0 < heartbeat_s < lease_ttl_s, or leases expire while held")
        if not 0 < poll_s < waiter_ttl_s:
            raise ValueError("need 0 < poll_s < waiter_ttl_s, or live waiters get purged")
        self._backend = backend
        self.heartbeat_s = heartbeat_s
        self._lease_ms = int(lease_ttl_s * 1000)
        self._waiter_ms = int(waiter_ttl_s * 1000)
        self._timeout_s = acquire_timeout_s
        self._poll_s = poll_s

    @contextmanager
    def slot(self, *, key: str, cap: int) -> Iterator[None]:
        """Hold one of `cap` slots for `key` while the block runs; raise SlotTimeout."""
        with self.hold(key=key, cap=cap):
            yield

    @contextmanager
    def hold(self, *, key: str, cap: int) -> Iterator[Lease]:
        """Like `slot`, but yield the Lease (its fence number and `lost` flag)."""
        lease = self.acquire(key=key, cap=cap)
        self.adopt(lease)
        try:
            yield lease
        finally:
            self.release(lease, cap=cap)

    @property
    def lease_ms(self) -> int:
        """A lease's lifetime without renewal, for a script that grants one (the call gate)."""
        return self._lease_ms

    @property
    def waiter_ms(self) -> int:
        """How long a waiter that stopped polling keeps its place in line."""
        return self._waiter_ms

    def acquire(self, *, key: str, cap: int) -> Lease:
        """Wait in line for a slot, up to `acquire_timeout_s`; the caller must `release` it."""
        if cap < 1:
            raise ValueError(f"cap must be >= 1, got {cap}")
        return self.join(key=key, cap=cap, token=uuid.uuid4().hex)

    def join(self, *, key: str, cap: int, token: str, queued: bool = False) -> Lease:
        """`acquire` as `token`; `queued`: another script already put it in line, wait first."""
        try:
            fence = self._wait_for_grant(key=key, cap=cap, token=token, queued=queued)
        except BaseException:
            self.withdraw(key=key, cap=cap, token=token)
            raise
        if fence is None:
            self.withdraw(key=key, cap=cap, token=token)
            raise SlotTimeout(f"no slot for {key!r} (cap {cap}) within {self._timeout_s}s")
        return Lease(key=key, token=token, fence=fence)

    def _wait_for_grant(self, *, key: str, cap: int, token: str, queued: bool) -> int | None:
        deadline = time.monotonic() + self._timeout_s
        while True:
            if queued:  # its last grant attempt was 0: no point asking again before a wake-up
                queued = False
            else:
                fence = self._backend.grant(
                    key=key,
                    cap=cap,
                    token=token,
                    lease_ms=self._lease_ms,
                    waiter_ms=self._waiter_ms,
                )
                if fence > 0:
                    return fence
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            # Blocks until a release wakes us; the short timeout bounds the damage of a
            # wake-up lost with a crashed releaser or a lease that simply expired.
            self._backend.wait(
                key=key, token=token, timeout_s=max(0.01, min(self._poll_s, remaining))
            )

    def withdraw(self, *, key: str, cap: int, token: str) -> None:
        """Leave the line (and drop a grant whose reply was lost); logs instead of raising."""
        try:
            self._backend.release(key=key, cap=cap, token=token, waiter_ms=self._waiter_ms)
        except self._backend.errors:
            log.warning("slot_withdraw_failed", key=key, exc_info=True)

    def adopt(self, lease: Lease) -> None:
        """Renew `lease` (granted here or by another script) with the one shared heartbeat."""
        _HEARTBEAT.add(self, lease)

    def disown(self, lease: Lease) -> bool:
        """Stop renewing `lease` before its release; False if it was already reported lost."""
        return _HEARTBEAT.discard(self, lease)

    def released(self, lease: Lease, *, held: bool, registered: bool) -> None:
        """Report `lease` lost if its release (here or in another script) found it gone."""
        if not held and registered:
            lease.lost.set()
            log.warning("slot_lease_lost", key=lease.key, fence=lease.fence)

    def release(self, lease: Lease, *, cap: int) -> None:
        """Give the slot back and wake the next waiter; never raises on backend errors."""
        registered = self.disown(lease)
        try:
            held = self._backend.release(
                key=lease.key, cap=cap, token=lease.token, waiter_ms=self._waiter_ms
            )
        except self._backend.errors:
            # the lease runs out on its own within the TTL; do not mask the caller's outcome
            log.warning("slot_release_failed", key=lease.key, exc_info=True)
            return
        self.released(lease, held=held, registered=registered)

    def renew(self, *, key: str, tokens: list[str]) -> list[str]:
        """Extend the given leases of `key` by the TTL; return the tokens already lost."""
        return self._backend.renew(key=key, tokens=tokens, lease_ms=self._lease_ms)

    def in_use(self, key: str) -> int:
        """Number of live (unexpired) leases on `key`."""
        return self._backend.in_use(key)

    def expired_total(self, key: str) -> int:
        """How many leases on `key` ever expired unreleased (their holder died or stalled)."""
        return self._backend.expired_total(key)

    def waiting(self, key: str) -> int:
        """How many callers stand in line for `key` right now."""
        return self._backend.waiting(key)
