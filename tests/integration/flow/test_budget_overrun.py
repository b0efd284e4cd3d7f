"""A provider that bills more than was reserved: the actual is kept, and the tenant stops.

storage/budget.py's invariant: an actual above the reservation is recorded in full (the
money is gone), spend may then pass the budget by that difference, and the next
reservation is refused. Here on real Postgres, through the budget port and the engine.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pytest
from pydantic import BaseModel

from schemas.config import DEFAULT_CONFIG, Settings, load_config
from tasks.engine.chain import call_model
from tasks.engine.cost import TokenUsage, call_cost
from tasks.engine.llm import CallRecord
from tasks.engine.models import Billed, Engine
from tasks.errors import BudgetExceeded
from tasks.flow.breaker import MemoryCircuitBreaker
from tasks.flow.bucket import MemoryTokenBucket
from tasks.flow.budget import PostgresBudget
from tasks.flow.killswitch import MemoryKillSwitch
from tasks.flow.semaphore import MemorySlotLimiter
from tests.integration.flow.budget_accounts import NOW, pg_summary, tenant_and_job
from tests.support.fakes import NoReplays

MODEL = "gpt-5.6-luna"  # first of the low tier's chain
# Far above any worst case the engine reserves for a one-line memo (and above the budget).
OVERBILLED = TokenUsage(input_tokens=2_000_000, output_tokens=1_000_000)


class Out(BaseModel):
    ok: bool


@dataclass
class OverbillingProvider:
    """Answers every call, reporting far more usage than the call's output cap allows."""

    calls: int = 0

    def extract(self, *, model: str, provider: str, sink: Any, opener: Any, **_: Any) -> Out:
        call_id = opener()
        self.calls += 1
        sink(CallRecord(model, provider, OVERBILLED, latency_ms=5, outcome="ok", call_id=call_id))
        return Out(ok=True)


@dataclass
class Ledger(NoReplays):
    """The job's call ledger, in memory: what the engine opened and what it billed."""

    billed: list[Billed] = field(default_factory=list)
    opened: int = 0

    def open(self, *, provider: str, model: str, chunk: int | None, reserved_usd: Decimal) -> int:
        """A new row id (from 1, as Postgres's sequence)."""
        self.opened += 1
        return self.opened

    def close(self, billed: Billed) -> bool:
        """Keep the billed call."""
        self.billed.append(billed)
        return True


def test_a_settle_above_the_reservation_is_recorded_and_the_next_reservation_refused(
    pg_url: str,
) -> None:
    tenant_id, job_id = tenant_and_job(pg_url, monthly="1.00", daily="1.00")
    budget = PostgresBudget(tenant_id=tenant_id, job_id=job_id, url=pg_url, clock=lambda: NOW)
    budget.reserve(Decimal("0.40")).settle(Decimal("1.30"))  # 0.90 more than was held
    summary = pg_summary(pg_url, tenant_id)
    assert (summary["month_spent_usd"], summary["day_spent_usd"]) == (Decimal("1.30"),) * 2
    assert summary["month_reserved_usd"] == summary["day_reserved_usd"] == Decimal(0)
    with pytest.raises(BudgetExceeded):
        budget.reserve(Decimal("0.000001"))  # the smallest amount there is
    assert pg_summary(pg_url, tenant_id) == summary  # nothing half-reserved


def test_after_an_overbilled_call_the_tenant_gets_no_further_call(pg_url: str) -> None:
    tenant_id, job_id = tenant_and_job(pg_url, monthly="1.00")
    config = load_config(DEFAULT_CONFIG)
    provider, ledger = OverbillingProvider(), Ledger()
    engine = Engine(
        config=config,
        extract=provider.extract,
        limiter=MemorySlotLimiter(lease_ttl_s=30, heartbeat_s=10, acquire_timeout_s=5),
        rate=MemoryTokenBucket(),
        breaker=MemoryCircuitBreaker(Settings().app.breaker),
        budget=PostgresBudget(tenant_id=tenant_id, job_id=job_id, url=pg_url, clock=lambda: NOW),
        killswitch=MemoryKillSwitch(cache_s=0),
        ledger=ledger,
        today=NOW.date,
    )

    def call() -> BaseModel:
        return call_model(
            engine=engine,
            tier="low",
            model=MODEL,
            messages=[{"role": "user", "content": f"Memo {uuid.uuid4()}: all is well."}],
            response_model=Out,
            chunk=None,
            deadline=time.monotonic() + 60,
        )

    assert call() == Out(ok=True)  # the reservation fitted; the bill did not
    actual = call_cost(model=config.models[MODEL], usage=OVERBILLED, day=NOW.date())
    assert actual > Decimal("1.00")
    assert [b.cost_usd for b in ledger.billed] == [actual]
    spent = pg_summary(pg_url, tenant_id)
    assert spent["month_spent_usd"] == actual  # the whole bill, not the reservation
    assert spent["month_reserved_usd"] == 0

    with pytest.raises(BudgetExceeded):
        call()
    assert provider.calls == 1  # refused before anything was sent
    assert pg_summary(pg_url, tenant_id) == spent
