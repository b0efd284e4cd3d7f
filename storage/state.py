"""Platform-wide state read at scrape time: jobs per tier and status, budgets, webhooks owed."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from storage.budget import periods
from storage.models import Tenant, TenantSpend
from storage.webhook_models import WebhookDelivery

Period = Literal["month", "day"]
_JOBS = text(
    """
    SELECT tier, status, count(*),
           EXTRACT(EPOCH FROM now() - min(created_at) FILTER (WHERE status = 'queued'))
    FROM jobs GROUP BY tier, status
    """
)


@dataclass(frozen=True)
class JobCount:
    """How many jobs of a tier are in a status; for `queued`, the oldest one's age."""

    tier: str
    status: str
    count: int
    oldest_queued_s: float | None


@dataclass(frozen=True)
class TenantBudgetUse:
    """One tenant's spent-plus-reserved against its budget for the current month or day."""

    period: Period
    used_usd: Decimal
    budget_usd: Decimal | None


def job_counts(*, session: Session) -> list[JobCount]:
    """Every (tier, status) pair that has jobs, counted over all tenants."""
    return [
        JobCount(tier, status, int(count), None if age is None else float(age))
        for tier, status, count, age in session.execute(_JOBS)
    ]


def budget_use(*, session: Session, now: dt.datetime) -> list[TenantBudgetUse]:
    """The spend of every tenant with any this month or today (`now` picks the periods)."""
    month, day = periods(now)
    rows = session.execute(
        select(
            TenantSpend.period,
            TenantSpend.spent_usd + TenantSpend.reserved_usd,
            Tenant.monthly_budget_usd,
            Tenant.daily_budget_usd,
        )
        .join(Tenant, Tenant.id == TenantSpend.tenant_id)
        .where(TenantSpend.period.in_([month, day]))
    ).all()
    return [
        TenantBudgetUse("month", Decimal(used), monthly)
        if period == month
        else TenantBudgetUse("day", Decimal(used), daily)
        for period, used, monthly, daily in rows
    ]


def webhooks_pending(*, session: Session) -> int:
    """Webhook deliveries still owed (including those waiting to retry)."""
    pending = session.scalar(
        select(func.count()).select_from(WebhookDelivery).where(WebhookDelivery.status == "pending")
    )
    return int(pending or 0)
