"""`CallGate` over the three separate ports: a round trip each (the slow path).

For wherever only the separate ports exist (in-memory fakes in unit tests, the batch lane's
free ports). The flow package's gate does the same in one round trip each way
(tasks/flow/gate/).
"""

from __future__ import annotations

import threading
from contextlib import AbstractContextManager
from dataclasses import dataclass, field

import structlog

from tasks.engine.ports import CircuitBreaker, Passage, RateLimiter, SlotLimiter
from tasks.errors import CircuitOpen
from tasks.observability import metrics

log = structlog.get_logger(__name__)


@dataclass(eq=False)
class ComposedPassage:
    """A call let through a ComposedGate: the open slot block and what `leave` settles."""

    model: str
    tokens: int
    per_minute: int
    slot: AbstractContextManager[None]
    # the SlotLimiter port does not report a lost lease: this one is never set
    lease_lost: threading.Event = field(default_factory=threading.Event)


class ComposedGate:
    """`CallGate` as `breaker.allow`, `rate.take`, `limiter.slot()`, and back again."""

    def __init__(self, limiter: SlotLimiter, rate: RateLimiter, breaker: CircuitBreaker) -> None:
        self._limiter = limiter
        self._rate = rate
        self._breaker = breaker

    def enter(self, *, model: str, tokens: int, per_minute: int, cap: int) -> ComposedPassage:
        """Breaker, then tokens, then a slot: raise CircuitOpen, or SlotTimeout after waiting."""
        if not self._breaker.allow(model=model):
            raise CircuitOpen(f"{model}: circuit open", attempts=0)
        # tokens first: a caller waiting for a slot keeps them, as the chain always did
        self._rate.take(key=model, tokens=tokens, per_minute=per_minute)
        slot = self._limiter.slot(key=model, cap=cap)
        slot.__enter__()
        return ComposedPassage(model=model, tokens=tokens, per_minute=per_minute, slot=slot)

    def leave(self, passage: Passage, *, ok: bool | None, actual_tokens: int) -> None:
        """Free the slot, correct the bucket, record `ok` (None: nothing); never raises."""
        if not isinstance(passage, ComposedPassage):
            raise TypeError(f"not a passage of this gate: {passage!r}")
        model = passage.model
        # each step on its own: a failed one must not keep the others from running
        try:
            passage.slot.__exit__(None, None, None)
        except Exception:
            metrics.BOOKKEEPING_FAILURES.labels(step="slot_release").inc()
            log.warning("gate_slot_release_failed", model=model, exc_info=True)
        if actual_tokens != passage.tokens:
            try:
                self._rate.correct(
                    key=model,
                    estimated=passage.tokens,
                    actual=actual_tokens,
                    per_minute=passage.per_minute,
                )
            except Exception:
                metrics.BOOKKEEPING_FAILURES.labels(step="bucket_correct").inc()
                log.warning("gate_bucket_correct_failed", model=model, exc_info=True)
        if ok is not None:
            try:
                self._breaker.record(model=model, ok=ok)
            except Exception:
                metrics.BOOKKEEPING_FAILURES.labels(step="breaker_record").inc()
                log.warning("gate_breaker_record_failed", model=model, exc_info=True)
