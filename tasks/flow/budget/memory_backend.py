"""A tenant's budget in memory, for unit tests: the rules of `storage.budget` under one lock.

Same periods (UTC month and day), the same rounding to 1e-6 USD, the same check (spent +
reserved + amount within every capped period, month first) and settle-once.
"""

from __future__ import annotations

import datetime as dt
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal

from storage.budget import MICRO_USD, periods
from storage.errors import BudgetExhausted
from tasks.flow.budget.core import refused

_ZERO = Decimal(0).quantize(MICRO_USD)


@dataclass
class Spend:
    """One period's totals, as in a `tenant_spend` row."""

    spent_usd: Decimal = _ZERO
    reserved_usd: Decimal = _ZERO


@dataclass
class _Reservation:
    month: str
    day: str
    amount: Decimal
    settled: bool = False


class MemoryHold:
    """One open reservation; settling it twice counts once."""

    def __init__(self, *, reservation_id: uuid.UUID, budget: MemoryBudget) -> None:
        self.reservation_id = reservation_id
        self._budget = budget

    def settle(self, actual_usd: Decimal) -> None:
        """Replace the reservation by the actual cost."""
        self._budget.settle(reservation_id=self.reservation_id, actual_usd=actual_usd)


class MemoryBudget:
    """`tasks.engine.ports.Budget` in memory: one tenant's spend, shared by all its jobs."""

    def __init__(
        self,
        *,
        monthly_usd: Decimal,
        daily_usd: Decimal | None = None,
        tenant_id: uuid.UUID | None = None,
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ) -> None:
        self.tenant_id = tenant_id or uuid.uuid4()
        self._monthly = monthly_usd.quantize(MICRO_USD)
        self._daily = daily_usd.quantize(MICRO_USD) if daily_usd is not None else None
        self._clock = clock
        self._lock = threading.Lock()
        self._spend: dict[str, Spend] = {}
        self._reservations: dict[uuid.UUID, _Reservation] = {}

    def spend(self, period: str) -> Spend:
        """A copy of the totals of `period` ('YYYY-MM' or 'YYYY-MM-DD')."""
        with self._lock:
            row = self._spend.get(period, Spend())
            return Spend(spent_usd=row.spent_usd, reserved_usd=row.reserved_usd)

    def reserve(self, amount_usd: Decimal) -> MemoryHold:
        """Reserve the worst case or raise BudgetExceeded."""
        if amount_usd < 0:
            raise ValueError(f"cannot reserve a negative amount: {amount_usd}")
        amount = amount_usd.quantize(MICRO_USD, rounding=ROUND_CEILING)
        month, day = periods(self._clock())
        with self._lock:
            rows = [self._spend.setdefault(p, Spend()) for p in (month, day)]
            for period, row, cap in zip(
                (month, day), rows, (self._monthly, self._daily), strict=True
            ):
                if cap is not None and row.spent_usd + row.reserved_usd + amount > cap:
                    exc = BudgetExhausted(
                        period=period,
                        budget=cap,
                        spent=row.spent_usd,
                        reserved=row.reserved_usd,
                        requested=amount,
                    )
                    raise refused(self.tenant_id, exc) from exc
            for row in rows:
                row.reserved_usd += amount
            reservation_id = uuid.uuid4()
            self._reservations[reservation_id] = _Reservation(month, day, amount)
        return MemoryHold(reservation_id=reservation_id, budget=self)

    def settle(self, *, reservation_id: uuid.UUID, actual_usd: Decimal) -> bool:
        """Replace the reservation by `actual_usd` in both periods; False if already settled."""
        if actual_usd < 0:
            raise ValueError(f"actual cost cannot be negative: {actual_usd}")
        actual = actual_usd.quantize(MICRO_USD, rounding=ROUND_HALF_UP)
        with self._lock:
            held = self._reservations[reservation_id]
            if held.settled:
                return False
            held.settled = True
            for period in (held.month, held.day):
                row = self._spend[period]
                row.reserved_usd -= held.amount
                row.spent_usd += actual
            return True
