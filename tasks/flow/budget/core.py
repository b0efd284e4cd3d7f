"""What every budget backend shares: how a refused reservation reaches the engine."""

from __future__ import annotations

import uuid
from decimal import Decimal

from storage.errors import BudgetExhausted
from tasks.errors import BudgetExceeded
from tasks.observability import metrics


def refused(tenant_id: uuid.UUID, exc: BudgetExhausted) -> BudgetExceeded:
    """The engine's BudgetExceeded for a reservation the storage refused (and count it)."""
    metrics.BUDGET_REJECTIONS.inc()
    left = max(exc.budget - exc.spent - exc.reserved, Decimal(0))
    return BudgetExceeded(
        f"tenant {tenant_id} budget for {exc.period} is exhausted: the next call needs "
        f"{exc.requested} USD at worst and {left} USD is left (budget {exc.budget} USD, "
        f"spent {exc.spent}, held by calls in flight {exc.reserved})",
        needed=exc.requested,
        left=left,
        held=exc.reserved,
    )
