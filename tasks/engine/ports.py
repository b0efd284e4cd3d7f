"""The engine's outside services, as Protocols: Redis and Postgres implement them in
production, and tests can pass their own implementations."""

from __future__ import annotations

import threading
from contextlib import AbstractContextManager
from decimal import Decimal
from typing import Protocol


class SlotLimiter(Protocol):
    """A global concurrency cap per model (crash-safe leases)."""

    def slot(self, *, key: str, cap: int) -> AbstractContextManager[None]:
        """Hold one of `cap` slots for `key` while the block runs; raise SlotTimeout."""
        ...


class RateLimiter(Protocol):
    """A tokens-per-minute bucket per model."""

    def take(self, *, key: str, tokens: int, per_minute: int) -> None:
        """Block until `tokens` fit in the bucket (or raise SlotTimeout)."""
        ...

    def correct(self, *, key: str, estimated: int, actual: int, per_minute: int) -> None:
        """Adjust the bucket once the real usage is known."""
        ...


class CircuitBreaker(Protocol):
    """Per-model breaker state shared by every worker."""

    def allow(self, *, model: str) -> bool:
        """Whether a call to `model` may go out now (closed, or the half-open probe)."""
        ...

    def record(self, *, model: str, ok: bool) -> None:
        """Feed back one call's health."""
        ...


class Passage(Protocol):
    """One call let through a CallGate: it holds a slot and its estimate's tokens until `leave`."""

    @property
    def model(self) -> str:
        """The model the call goes to (its slot's and bucket's key)."""
        ...

    @property
    def tokens(self) -> int:
        """The estimate taken from the bucket, corrected at `leave`."""
        ...

    @property
    def lease_lost(self) -> threading.Event:
        """Set once the slot's lease expired while held (a stalled heartbeat)."""
        ...


class CallGate(Protocol):
    """The breaker, the token bucket and the slot of one provider call, passed together."""

    def enter(self, *, model: str, tokens: int, per_minute: int, cap: int) -> Passage:
        """Breaker, then tokens, then a slot: raise CircuitOpen, or SlotTimeout after waiting."""
        ...

    def leave(self, passage: Passage, *, ok: bool | None, actual_tokens: int) -> None:
        """Free the slot, correct the bucket, record `ok` (None: nothing); never raises."""
        ...


class BudgetHold(Protocol):
    """A reservation to settle."""

    def settle(self, actual_usd: Decimal) -> None:
        """Replace the reservation by the actual cost."""
        ...


class Budget(Protocol):
    """A tenant's spend guard."""

    def reserve(self, amount_usd: Decimal) -> BudgetHold:
        """Reserve the worst case or raise BudgetExceeded."""
        ...


class KillSwitch(Protocol):
    """The global stop for new provider calls."""

    def check(self) -> None:
        """Raise Paused while the switch is on."""
        ...
