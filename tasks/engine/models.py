"""The engine's value types: one job's collaborators (`Engine`), a billed call, an outcome."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Protocol

from pydantic import BaseModel

from schemas.config import AppConfig
from schemas.trust.envelope import DocumentFit
from tasks.engine.gate import ComposedGate
from tasks.engine.llm import CallRecord
from tasks.engine.ports import (
    Budget,
    BudgetHold,
    CallGate,
    CircuitBreaker,
    KillSwitch,
    RateLimiter,
    SlotLimiter,
)

Extract = Callable[..., BaseModel]


@dataclass
class Billed:
    """A CallRecord with its cost and place in the job."""

    record: CallRecord
    cost_usd: Decimal
    chunk: int | None


class CallLedger(Protocol):
    """One job's ledger: a row opened before each call is sent, completed when it answers."""

    def open(
        self, *, provider: str, model: str, chunk: int | None, reserved_usd: Decimal
    ) -> int | None:
        """Write the call's in-flight row at its reserved cost (raise: do not send it)."""
        ...

    def close(self, billed: Billed) -> bool:
        """Complete the call's row with its cost; False if it was billed as unknown first."""
        ...

    def judged(self, *, call_id: int, outcome: str) -> None:
        """A replayed batch answer's verdict (`validation_error`) on its already billed row."""
        ...

    def open_held(
        self,
        *,
        budget: Budget,
        provider: str,
        model: str,
        chunk: int | None,
        reserved_usd: Decimal,
    ) -> tuple[int | None, BudgetHold]:
        """Hold the call's worst case and write its in-flight row (raising: neither stays)."""
        ...

    def close_held(
        self, billed: Billed, hold: BudgetHold, cost_usd: Decimal, reserved_usd: Decimal
    ) -> bool:
        """Complete the row and settle its hold at its cost (`reserved_usd` if billed unknown)."""
        ...


@dataclass
class Outcome:
    """A finished extraction, with what the trust step needs (tasks/trust)."""

    result: dict[str, Any]
    model: str
    chunks: int
    quotes: list[tuple[str, str]] = field(default_factory=list)  # (pointer, quote)
    fit: DocumentFit | None = None
    reasks: int = 0  # answers that needed a re-ask, over every chunk
    chunk_results: list[dict[str, Any]] = field(default_factory=list)  # when chunked
    second: dict[str, Any] | None = None  # the self-consistency sample's result


@dataclass
class Engine:
    """Everything one job's extraction needs."""

    config: AppConfig
    extract: Extract  # tasks.engine.llm.extract bound to the process's clients
    limiter: SlotLimiter
    rate: RateLimiter
    breaker: CircuitBreaker
    budget: Budget
    killswitch: KillSwitch
    ledger: CallLedger
    # One round trip each way through the breaker, bucket and slot (tasks/flow/gate);
    # None: the three ports above, one after another (tasks/engine/gate.py).
    gate: CallGate | None = None
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic
    today: Callable[[], dt.date] = field(default=lambda: dt.datetime.now(dt.UTC).date())

    def call_gate(self) -> CallGate:
        """The gate each provider call passes: `gate`, or the three ports composed."""
        if self.gate is None:
            self.gate = ComposedGate(self.limiter, self.rate, self.breaker)
        return self.gate
