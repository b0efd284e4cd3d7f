"""A tight budget is spent, not refused: 80 concurrent jobs on a budget for about 20.

Each call holds its own worst case just before it leaves (a re-ask's when it happens), and a
call that finds the budget held by calls in flight waits for them to settle. On real
Postgres, through the engine and the budget port.
"""

from __future__ import annotations

import random
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

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
from tests.integration.flow.budget_accounts import NOW, pg_summary
from tests.support.fakes import NoReplays
from tests.support.store_seed import tenant_with_jobs

MODEL = "gpt-5.6-luna"  # first of the low tier's chain
JOBS = 80
CONFIG = load_config(DEFAULT_CONFIG)
MAX_OUT = CONFIG.tiers["low"].max_output_tokens
# About what one job costs: its prompt, and an answer of three quarters of its output cap.
TYPICAL = call_cost(
    model=CONFIG.models[MODEL],
    usage=TokenUsage(input_tokens=300, output_tokens=MAX_OUT * 3 // 4),
    day=NOW.date(),
)


class Out(BaseModel):
    ok: bool


@dataclass
class Provider:
    """Answers after a short while, with an answer of half to all of the output cap."""

    def extract(self, *, model: str, provider: str, sink: Any, opener: Any, **_: Any) -> Out:
        call_id = opener()
        time.sleep(random.uniform(0.01, 0.05))  # calls overlap: money is held meanwhile
        usage = TokenUsage(input_tokens=300, output_tokens=random.randint(MAX_OUT // 2, MAX_OUT))
        sink(CallRecord(model, provider, usage, latency_ms=30, outcome="ok", call_id=call_id))
        return Out(ok=True)


class Ledger(NoReplays):
    """Row ids and the billed costs, shared by every job."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.rows = 0
        self.billed: list[Decimal] = []

    def open(self, **_: Any) -> int:
        with self.lock:
            self.rows += 1
            return self.rows

    def close(self, billed: Billed) -> bool:
        with self.lock:
            self.billed.append(billed.cost_usd)
        return True


def test_eighty_jobs_on_a_budget_for_twenty_spend_at_least_nine_tenths_and_never_more(
    pg_url: str,
) -> None:
    budget_usd = (TYPICAL * 20).quantize(Decimal("0.000001"))
    tenant_id, job_ids = tenant_with_jobs(pg_url, prefix="spend", n=JOBS, budget=budget_usd)
    provider, ledger = Provider(), Ledger()
    shared: dict[str, Any] = {
        "limiter": MemorySlotLimiter(lease_ttl_s=30, heartbeat_s=10, acquire_timeout_s=30),
        "rate": MemoryTokenBucket(),
        "breaker": MemoryCircuitBreaker(Settings().app.breaker),
        "killswitch": MemoryKillSwitch(cache_s=0),
    }

    def job(job_id: uuid.UUID) -> str:
        engine = Engine(
            config=CONFIG,
            extract=provider.extract,
            budget=PostgresBudget(
                tenant_id=tenant_id, job_id=job_id, url=pg_url, clock=lambda: NOW
            ),
            ledger=ledger,
            today=NOW.date,
            **shared,
        )
        try:
            call_model(
                engine=engine,
                tier="low",
                model=MODEL,
                messages=[{"role": "user", "content": f"Memo {job_id}: all is well."}],
                response_model=Out,
                chunk=None,
                deadline=time.monotonic() + 60,
            )
        except BudgetExceeded as exc:
            return exc.message
        return "ok"

    with ThreadPoolExecutor(JOBS) as pool:
        ends = list(pool.map(job, job_ids))

    summary = pg_summary(pg_url, tenant_id)
    spent = summary["month_spent_usd"]
    assert spent is not None
    assert summary["month_reserved_usd"] == 0  # every hold settled
    assert spent == sum(ledger.billed, Decimal(0))  # spend is exactly what was billed
    assert spent <= budget_usd
    assert spent >= budget_usd * Decimal("0.9"), (spent, budget_usd, ends.count("ok"))
    print(f"\nspent {spent} of {budget_usd} ({spent / budget_usd:.3f}); {ends.count('ok')} jobs")
    refusals = [end for end in ends if end != "ok"]
    assert refusals  # the budget ran out before the 80 jobs did
    assert all("the next call needs" in r and "USD is left" in r for r in refusals), refusals[0]
