"""The call gate's algorithm, apart from its backend: one round trip in, one out.

A backend (`GateBackend`) does each way atomically (Redis: one Lua script built from the
breaker's, the bucket's and the semaphore's own scripts; memory: one lock). When everything
passes at once, a call costs one `enter` and one `leave`; when the bucket or the line says
wait, the waiting is the bucket's and the semaphore's own loops, and the lease they end with
is renewed by the one shared heartbeat like any other.
"""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass
from enum import IntEnum
from typing import Protocol

import structlog

from schemas.config import BreakerConfig
from tasks.engine.ports import Passage
from tasks.errors import CircuitOpen
from tasks.flow.breaker.core import Breaker
from tasks.flow.bucket.core import TokenBucket
from tasks.flow.semaphore.core import Lease, LeaseLimiter
from tasks.observability import metrics

log = structlog.get_logger(__name__)


class Stage(IntEnum):
    """Where `GateBackend.enter` stopped (the Lua script's codes)."""

    REFUSED = 0  # the breaker refused: no tokens taken, no place in line
    BUCKET = 1  # the tokens do not fit yet (`wait_ms`): no place in line
    LINE = 2  # tokens taken, the token stands in line for a slot
    GRANTED = 3  # tokens taken, slot granted (`fence`)


@dataclass(frozen=True)
class Entry:
    """The outcome of one `enter`; `probe`: this call claimed the half-open probe."""

    stage: Stage
    probe: bool = False
    wait_ms: int = 0
    fence: int = 0


@dataclass(frozen=True)
class Exit:
    """The outcome of one `leave`: was the lease still live, and the breaker's state after."""

    held: bool
    state: str  # 'closed' or 'open'; '' when nothing was recorded


class GateBackend(Protocol):
    """The two atomic steps of a call gate on one model's breaker, bucket and semaphore."""

    # failures `leave` logs instead of raising (the lease expires, the bucket refills anyway)
    errors: tuple[type[Exception], ...]

    def enter(
        self,
        *,
        model: str,
        probe_token: str,
        cooldown_s: float,
        probe_ttl_ms: int,
        tokens: int,
        per_minute: int,
        slot_token: str,
        cap: int,
        lease_ms: int,
        waiter_ms: int,
    ) -> Entry:
        """Breaker allow, then bucket take (if `tokens` > 0), then join the line and grant."""
        ...

    def leave(
        self,
        *,
        model: str,
        slot_token: str,
        cap: int,
        waiter_ms: int,
        per_minute: int,
        delta: int,
        ok: bool | None,
        probe_token: str,
        config: BreakerConfig,
    ) -> Exit:
        """Release the slot, add `delta` tokens (if not 0), record `ok` (if not None)."""
        ...


@dataclass(eq=False)
class FlowPassage:
    """A call let through a FlowGate: its lease, its estimate and its breaker token."""

    model: str
    tokens: int
    per_minute: int
    cap: int
    lease: Lease
    probe_token: str
    probe: bool  # it claimed the half-open probe: its outcome closes or reopens the breaker

    @property
    def lease_lost(self) -> threading.Event:
        """Set once the slot's lease expired while held (the semaphore's `Lease.lost`)."""
        return self.lease.lost


class FlowGate:
    """`tasks.engine.ports.CallGate` over a GateBackend and the three mechanisms' clients."""

    def __init__(
        self,
        backend: GateBackend,
        *,
        limiter: LeaseLimiter,
        bucket: TokenBucket,
        breaker: Breaker,
    ) -> None:
        self._backend = backend
        self._limiter = limiter
        self._bucket = bucket
        self._breaker = breaker

    def enter(self, *, model: str, tokens: int, per_minute: int, cap: int) -> FlowPassage:
        """Breaker, then tokens, then a slot: raise CircuitOpen, or SlotTimeout after waiting."""
        if cap < 1:
            raise ValueError(f"cap must be >= 1, got {cap}")
        if per_minute <= 0:
            raise ValueError(f"per_minute must be > 0, got {per_minute}")
        probe_token, slot_token = uuid.uuid4().hex, uuid.uuid4().hex
        try:
            entry = self._backend.enter(
                model=model,
                probe_token=probe_token,
                cooldown_s=self._breaker.config.cooldown_s,
                probe_ttl_ms=self._breaker.probe_ttl_ms,
                tokens=tokens,
                per_minute=per_minute,
                slot_token=slot_token,
                cap=cap,
                lease_ms=self._limiter.lease_ms,
                waiter_ms=self._limiter.waiter_ms,
            )
        except BaseException:
            # the reply may be lost after the script put us in line or granted a slot
            self._limiter.withdraw(key=model, cap=cap, token=slot_token)
            raise
        allowed = entry.stage != Stage.REFUSED
        # as `Breaker.allow` would: a later `Breaker.record` on this thread settles the probe
        self._breaker.adopt(model=model, token=probe_token, allowed=allowed)
        if not allowed:
            raise CircuitOpen(f"{model}: circuit open", attempts=0)
        if entry.stage == Stage.GRANTED:
            lease = Lease(key=model, token=slot_token, fence=entry.fence)
        elif entry.stage == Stage.LINE:  # tokens taken: keep them while waiting for the slot
            lease = self._limiter.join(key=model, cap=cap, token=slot_token, queued=True)
        else:
            self._bucket.take_after(
                key=model, tokens=tokens, per_minute=per_minute, wait_ms=entry.wait_ms
            )
            lease = self._limiter.acquire(key=model, cap=cap)
        self._limiter.adopt(lease)
        return FlowPassage(
            model=model,
            tokens=tokens,
            per_minute=per_minute,
            cap=cap,
            lease=lease,
            probe_token=probe_token,
            probe=entry.probe,
        )

    def leave(self, passage: Passage, *, ok: bool | None, actual_tokens: int) -> None:
        """Free the slot, correct the bucket, record `ok` (None: nothing); never raises."""
        if not isinstance(passage, FlowPassage):
            raise TypeError(f"not a passage of this gate: {passage!r}")
        lease = passage.lease
        registered = self._limiter.disown(lease)
        if ok is not None:  # recorded here, so a later `Breaker.record` must not settle it again
            self._breaker.forget(model=passage.model, token=passage.probe_token)
        try:
            out = self._backend.leave(
                model=passage.model,
                slot_token=lease.token,
                cap=passage.cap,
                waiter_ms=self._limiter.waiter_ms,
                per_minute=passage.per_minute,
                delta=passage.tokens - actual_tokens,
                ok=ok,
                probe_token=passage.probe_token,
                config=self._breaker.config,
            )
        except self._backend.errors:
            # the lease runs out within its TTL and the bucket refills: the call's outcome stands
            metrics.BOOKKEEPING_FAILURES.labels(step="gate_leave").inc()
            log.warning("gate_leave_failed", model=passage.model, exc_info=True)
            return
        self._limiter.released(lease, held=out.held, registered=registered)
