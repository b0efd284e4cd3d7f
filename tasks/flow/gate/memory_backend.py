"""The call gate in memory: the three mechanisms' memory backends, each way under one lock.

For tests of the logic; share the backends with separate limiters to share their state.
"""

from __future__ import annotations

import threading

from schemas.config import BreakerConfig
from tasks.flow.breaker.memory_backend import MemoryBreakerBackend
from tasks.flow.bucket.memory_backend import MemoryBucketBackend
from tasks.flow.gate.core import Entry, Exit, Stage
from tasks.flow.semaphore.memory_backend import MemorySlotBackend


class MemoryGateBackend:
    """`GateBackend` over the memory backends of the breaker, the bucket and the semaphore."""

    errors: tuple[type[Exception], ...] = ()  # nothing here fails like a network does

    def __init__(
        self,
        *,
        slots: MemorySlotBackend,
        bucket: MemoryBucketBackend,
        breaker: MemoryBreakerBackend,
    ) -> None:
        self._slots = slots
        self._bucket = bucket
        self._breaker = breaker
        self._lock = threading.Lock()

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
        with self._lock:
            if not self._breaker.allow(
                model=model, cooldown_s=cooldown_s, probe_ttl_ms=probe_ttl_ms, token=probe_token
            ):
                return Entry(stage=Stage.REFUSED)
            # an open breaker lets a call through only as its probe (exact unless a client
            # outside this gate trips the shared breaker between these two steps)
            probe = self._breaker.state(model=model, cooldown_s=cooldown_s) != "closed"
            if tokens > 0:
                wait_ms = self._bucket.take(key=model, tokens=tokens, per_minute=per_minute)
                if wait_ms > 0:
                    return Entry(stage=Stage.BUCKET, probe=probe, wait_ms=wait_ms)
            fence = self._slots.grant(
                key=model, cap=cap, token=slot_token, lease_ms=lease_ms, waiter_ms=waiter_ms
            )
            if fence == 0:
                return Entry(stage=Stage.LINE, probe=probe)
            return Entry(stage=Stage.GRANTED, probe=probe, fence=fence)

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
        with self._lock:
            held = self._slots.release(key=model, cap=cap, token=slot_token, waiter_ms=waiter_ms)
            if delta != 0:
                self._bucket.correct(key=model, delta=delta, per_minute=per_minute)
            state = ""
            if ok is not None:
                state = self._breaker.record(model=model, ok=ok, token=probe_token, config=config)
            return Exit(held=held, state=state)
