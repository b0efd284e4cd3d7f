"""One attempt's ledger: the engine's `CallLedger` over the job store.

With the Postgres budget (tasks/flow/budget), a call's hold and its ledger row are one
statement when it leaves and one when it answers (storage.held_calls); with any other
budget they are written apart (tasks/engine/holds.py).
"""

from __future__ import annotations

import itertools
import uuid
from decimal import Decimal
from typing import Protocol, runtime_checkable

from storage.ledger import CallResult, CallRow
from tasks.engine.holds import SeparateHolds
from tasks.engine.models import Billed
from tasks.engine.ports import Budget, BudgetHold
from tasks.errors import LedgerUnavailable, TaskError
from tasks.worker.ports import JobStore


@runtime_checkable
class JointHold(Protocol):
    """A hold that completes its call's ledger row as it settles, in one write."""

    def settle(self, actual_usd: Decimal) -> None:
        """Replace the reservation by the actual cost."""
        ...

    def close_call(self, *, call_id: int, result: CallResult, reserved_usd: Decimal) -> bool:
        """Complete the row and settle at its cost; False if it was billed unknown first."""
        ...


@runtime_checkable
class JointBudget(Protocol):
    """A budget that writes a call's hold and its ledger row in one statement."""

    def reserve(self, amount_usd: Decimal) -> BudgetHold:
        """Reserve the worst case or raise BudgetExceeded."""
        ...

    def open_call(self, amount_usd: Decimal, row: CallRow) -> tuple[int, JointHold]:
        """Hold the worst case and open the row; (row id, hold), or BudgetExceeded."""
        ...


class AttemptLedger(SeparateHolds):
    """Opens each call's row before it is sent and completes it when the call answers."""

    def __init__(
        self, *, store: JobStore, job_id: uuid.UUID, tenant_id: uuid.UUID, attempt: int, tier: str
    ) -> None:
        self._store, self._job_id, self._tenant_id = store, job_id, tenant_id
        self._attempt, self._tier = attempt, tier
        self._seq = itertools.count(1)

    def _row(self, *, provider: str, model: str, chunk: int | None, cost: Decimal) -> CallRow:
        return CallRow(
            job_id=self._job_id,
            tenant_id=self._tenant_id,
            attempt=self._attempt,
            seq=next(self._seq),
            tier=self._tier,
            provider=provider,
            model=model,
            chunk=chunk,
            input_tokens=0,
            output_tokens=0,
            cached_tokens=0,
            cost_usd=cost,
            latency_ms=0,
            outcome="in_flight",
            status_code=None,
        )

    def open(
        self, *, provider: str, model: str, chunk: int | None, reserved_usd: Decimal
    ) -> int | None:
        """Write the in-flight row; a store that refuses means the call must not go out."""
        row = self._row(provider=provider, model=model, chunk=chunk, cost=reserved_usd)
        try:
            return self._store.open_call(row=row)
        except Exception as exc:
            raise LedgerUnavailable(
                f"ledger row not written ({type(exc).__name__}); call not sent"
            ) from exc

    def open_held(
        self,
        *,
        budget: Budget,
        provider: str,
        model: str,
        chunk: int | None,
        reserved_usd: Decimal,
    ) -> tuple[int | None, BudgetHold]:
        """Hold the call's worst case and write its in-flight row, in one statement if we can."""
        if not isinstance(budget, JointBudget):
            return super().open_held(
                budget=budget,
                provider=provider,
                model=model,
                chunk=chunk,
                reserved_usd=reserved_usd,
            )
        row = self._row(provider=provider, model=model, chunk=chunk, cost=reserved_usd)
        try:
            return budget.open_call(reserved_usd, row)
        except TaskError:
            raise  # BudgetExceeded: the refusal, with what is left
        except Exception as exc:
            raise LedgerUnavailable(
                f"ledger row not written ({type(exc).__name__}); call not sent"
            ) from exc

    def close_held(
        self, billed: Billed, hold: BudgetHold, cost_usd: Decimal, reserved_usd: Decimal
    ) -> bool:
        """Complete the row and settle its hold, in one statement if the hold can."""
        call_id = billed.record.call_id
        if call_id is None or not isinstance(hold, JointHold):
            return super().close_held(billed, hold, cost_usd, reserved_usd)
        return hold.close_call(call_id=call_id, result=_result(billed), reserved_usd=reserved_usd)

    def close(self, billed: Billed) -> bool:
        """Complete the call's row (every sent call has one: `open` ran before it left)."""
        if billed.record.call_id is None:
            return False
        return self._store.close_call(call_id=billed.record.call_id, result=_result(billed))

    def judged(self, *, call_id: int, outcome: str) -> None:
        """A replayed batch answer failed validation: its billed row says so."""
        self._store.judge_call(call_id=call_id, outcome=outcome)


def _result(billed: Billed) -> CallResult:
    """What an answered call's row is completed with."""
    rec = billed.record
    return CallResult(
        input_tokens=rec.usage.input_tokens,
        output_tokens=rec.usage.output_tokens,
        cached_tokens=rec.usage.cached_tokens,
        cache_write_tokens=rec.usage.cache_write_tokens,
        cost_usd=billed.cost_usd,
        latency_ms=rec.latency_ms,
        outcome=rec.outcome,
        status_code=rec.status_code,
    )
