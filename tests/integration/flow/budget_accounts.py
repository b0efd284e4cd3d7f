"""Budget test accounts on Postgres or in memory: a tenant's budget, clock and usage summary."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

from storage import budget as store
from storage.db import session_scope
from storage.jobs import NewJob, create_job
from storage.ledger import CallRow, record_call
from storage.tenants import create_tenant
from tasks.engine.ports import Budget
from tasks.flow.budget import MemoryBudget, PostgresBudget

NOW = dt.datetime(2026, 11, 23, 12, 0, tzinfo=dt.UTC)
Summary = dict[str, Decimal | None]


@dataclass
class Clock:
    """A settable clock for the budgets (they only read it)."""

    now: dt.datetime = NOW

    def __call__(self) -> dt.datetime:
        """The current fake time."""
        return self.now


@dataclass
class Account:
    """One tenant's budget, the clock it reads and its spend summary as of NOW."""

    budget: Budget
    summary: Callable[[], Summary]
    clock: Clock = field(default_factory=Clock)


OpenAccount = Callable[..., Account]


def tenant_and_job(
    pg_url: str, *, monthly: str, daily: str | None = None
) -> tuple[uuid.UUID, uuid.UUID]:
    """A new tenant with these budgets and one job of it."""
    with session_scope(pg_url) as session:
        tenant = create_tenant(
            session=session,
            name=f"budget-{uuid.uuid4().hex}",
            monthly_budget_usd=Decimal(monthly),
            daily_budget_usd=Decimal(daily) if daily is not None else None,
            concurrency=4,
        )
        job, _ = create_job(
            session=session,
            new=NewJob(
                tenant_id=tenant.id,
                schema_name="invoice",
                schema_version="1",
                prompt_version="1",
                tier="fast",
                tier_reason="test",
                document_sha256=None,
            ),
        )
        return tenant.id, job.id


def pg_summary(pg_url: str, tenant_id: uuid.UUID) -> Summary:
    """The tenant's budgets and spend as of NOW, from Postgres."""
    with session_scope(pg_url) as session:
        return store.usage_summary(session=session, tenant_id=tenant_id, now=NOW)


def postgres_account(pg_url: str, *, monthly: str, daily: str | None = None) -> Account:
    """A fresh tenant on Postgres."""
    tenant_id, job_id = tenant_and_job(pg_url, monthly=monthly, daily=daily)
    clock = Clock()
    budget = PostgresBudget(tenant_id=tenant_id, job_id=job_id, url=pg_url, clock=clock)
    return Account(budget=budget, summary=lambda: pg_summary(pg_url, tenant_id), clock=clock)


def memory_account(*, monthly: str, daily: str | None = None) -> Account:
    """A fresh tenant in memory, summarised like `storage.budget.usage_summary`."""
    clock = Clock()
    budget = MemoryBudget(
        monthly_usd=Decimal(monthly),
        daily_usd=Decimal(daily) if daily is not None else None,
        clock=clock,
    )
    month, day = store.periods(NOW)

    def summary() -> Summary:
        m, d = budget.spend(month), budget.spend(day)
        return {
            "monthly_budget_usd": Decimal(monthly),
            "daily_budget_usd": Decimal(daily) if daily is not None else None,
            "month_spent_usd": m.spent_usd,
            "month_reserved_usd": m.reserved_usd,
            "day_spent_usd": d.spent_usd,
            "day_reserved_usd": d.reserved_usd,
        }

    return Account(budget=budget, summary=summary, clock=clock)


def ledger(pg_url: str, tenant_id: uuid.UUID, job_id: uuid.UUID, cost: str, seq: int) -> None:
    """Record one answered provider call of `cost` USD for the job."""
    with session_scope(pg_url) as session:
        record_call(
            session=session,
            row=CallRow(
                job_id=job_id,
                tenant_id=tenant_id,
                attempt=1,
                seq=seq,
                tier="fast",
                provider="openai",
                model="gpt-test",
                chunk=None,
                input_tokens=10,
                output_tokens=10,
                cached_tokens=0,
                cost_usd=Decimal(cost),
                latency_ms=5,
                outcome="ok",
                status_code=200,
            ),
        )
