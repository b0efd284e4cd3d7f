"""What every budget backend shares: how a refused reservation reaches the engine."""

from __future__ import annotations

import uuid

from storage.errors import BudgetExhausted
from tasks.errors import BudgetExceeded
from tasks.observability import metrics


def refused(tenant_id: uuid.UUID, exc: BudgetExhausted) -> BudgetExceeded:
    """The engine's BudgetExceeded for a reservation the storage refused (and count it)."""
    metrics.BUDGET_REJECTIONS.inc()
    return BudgetExceeded(
        f"tenant {tenant_id} budget for {exc.period} is exhausted: "
        f"budget {exc.budget} USD, spent {exc.spent}, reserved {exc.reserved}, "
        f"requested {exc.requested}"
    )
