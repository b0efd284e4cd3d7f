"""/v1/usage: the tenant's spend by day, model, tier and lane, with totals and its budget."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from fastapi import APIRouter
from pydantic import BaseModel

from api.deps import SessionDep, TenantDep
from api.errors import ApiError
from storage import usage as usage_store
from storage.budget import periods, usage_summary
from storage.usage import UsageLine, UsageTotals

router = APIRouter(prefix="/v1/usage", tags=["usage"])

MAX_RANGE_DAYS = 366
EARLIEST = dt.date(2000, 1, 1)

# Costs are Decimals and serialise as strings, like GET /v1/jobs/{id}'s usage.cost_usd.
# The ledger's lines and totals (storage dataclasses) are served as they are.


class BudgetOut(BaseModel):
    """Budgets and settled/reserved spend of the current month and day (UTC)."""

    month: str
    day: str
    monthly_budget_usd: Decimal
    daily_budget_usd: Decimal | None
    month_spent_usd: Decimal
    month_reserved_usd: Decimal
    day_spent_usd: Decimal
    day_reserved_usd: Decimal


class UsageOut(BaseModel):
    """GET /v1/usage."""

    since: dt.date
    until: dt.date
    by_day: list[UsageLine]
    totals: UsageTotals
    budget: BudgetOut


def _range(since: dt.date | None, until: dt.date | None, today: dt.date) -> tuple[dt.date, dt.date]:
    """The inclusive day range asked for; the current month to date by default."""
    end = until or today
    start = since or end.replace(day=1)
    for day in (start, end):  # the ledger began with docqueue; far futures overflow dates
        if not EARLIEST <= day <= today + dt.timedelta(days=MAX_RANGE_DAYS):
            raise ApiError(
                422, "invalid_range", f"{day} is outside {EARLIEST} to a year from today"
            )
    if start > end:
        raise ApiError(422, "invalid_range", f"since ({start}) is after until ({end})")
    if (end - start).days >= MAX_RANGE_DAYS:
        raise ApiError(422, "invalid_range", f"the range may span at most {MAX_RANGE_DAYS} days")
    return start, end


@router.get("", response_model=UsageOut)
def read_usage(
    session: SessionDep,
    tenant: TenantDep,
    since: dt.date | None = None,
    until: dt.date | None = None,
) -> UsageOut:
    """Spend from the usage ledger for `since`..`until` (UTC dates, inclusive).

    One `by_day` line per day, model, tier and lane (`realtime`, or `batch` for calls made
    through a provider's batch API).
    """
    now = dt.datetime.now(dt.UTC)
    start, end = _range(since, until, now.date())
    lines = usage_store.spend_by_day(session=session, tenant_id=tenant.id, since=start, until=end)
    totals = usage_store.total(lines)
    month, day = periods(now)
    budget = usage_summary(session=session, tenant_id=tenant.id, now=now)
    return UsageOut(
        since=start,
        until=end,
        by_day=lines,
        totals=totals,
        budget=BudgetOut(month=month, day=day, **budget),
    )
