"""A call's budget hold and its ledger row, taken and given back together.

`CallLedger.open_held` and `close_held` let a store write both in one statement
(tasks/worker/ledger.py over storage.held_calls). `SeparateHolds` is the plain form for
ledgers with no such statement: the hold through `Budget.reserve`, then the row.
"""

from __future__ import annotations

from decimal import Decimal

from tasks.engine.models import Billed
from tasks.engine.ports import Budget, BudgetHold


class SeparateHolds:
    """`open_held` and `close_held` over a ledger's own `open` and `close`."""

    def open(
        self, *, provider: str, model: str, chunk: int | None, reserved_usd: Decimal
    ) -> int | None:
        raise NotImplementedError

    def close(self, billed: Billed) -> bool:
        raise NotImplementedError

    def open_held(
        self,
        *,
        budget: Budget,
        provider: str,
        model: str,
        chunk: int | None,
        reserved_usd: Decimal,
    ) -> tuple[int | None, BudgetHold]:
        """Hold `reserved_usd`, then write the in-flight row (raising: neither stays)."""
        hold = budget.reserve(reserved_usd)
        try:
            call_id = self.open(
                provider=provider, model=model, chunk=chunk, reserved_usd=reserved_usd
            )
        except BaseException:
            hold.settle(Decimal(0))  # never sent: nothing owed
            raise
        return call_id, hold

    def close_held(
        self, billed: Billed, hold: BudgetHold, cost_usd: Decimal, reserved_usd: Decimal
    ) -> bool:
        """Complete the row, then settle at its cost (at `reserved_usd` if billed unknown)."""
        try:
            closed = self.close(billed)
        except Exception:
            hold.settle(reserved_usd)  # the open row is billed at that by the reconciler
            raise
        hold.settle(cost_usd if closed else reserved_usd)
        return closed
