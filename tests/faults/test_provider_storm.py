"""A provider storm: 30% errors everywhere and the primary model down for 10 s."""

from __future__ import annotations

import threading
import time
import uuid
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from storage.models import BudgetReservation, Job, LlmCall, TenantSpend
from tests.support.faults import SimSampler, audit_ledger
from tests.support.seeding import seed
from tests.support.stacks import FaultStackFactory, LiveStack, WorkerSpec
from tests.support.waits import status_counts, wait_until, wait_until_terminal

pytestmark = [pytest.mark.faults, pytest.mark.e2e]

BATCH = 300
CAP = 6  # per model, across both workers (32 threads)
PRIMARY, FALLBACK = "gpt-5.6-luna", "claude-haiku-5-5"
BUDGET = Decimal("2.00")


def _committed(live: LiveStack, tenant_id: str) -> Decimal:
    """The tenant's spent plus reserved this month: what the budget check compares."""
    with live.session() as session:
        row = session.execute(
            select(TenantSpend.spent_usd + TenantSpend.reserved_usd)
            .where(TenantSpend.tenant_id == uuid.UUID(tenant_id))
            .order_by(TenantSpend.period)
            .limit(1)
        ).scalar()
    return Decimal(row or 0)


def test_storm_of_faults_and_a_dead_primary_keeps_caps_and_budget_and_completes_every_job(
    fault_stack: FaultStackFactory,
) -> None:
    live = fault_stack(
        name="storm",
        overrides={"models": {PRIMARY: {"concurrency": CAP}, FALLBACK: {"concurrency": CAP}}},
        workers=[WorkerSpec(name="w0", concurrency=16), WorkerSpec(name="w1", concurrency=16)],
        sim_latency_ms=150,
    )
    tenant = live.tenant("storm", budget=float(BUDGET), concurrency=64)
    live.sim("/sim/config", {"fault_rate": 0.3, "seed": 7})
    committed: list[Decimal] = []
    stop = threading.Event()

    def watch_budget() -> None:
        while not stop.wait(0.25):
            committed.append(_committed(live, tenant.id))

    watcher = threading.Thread(target=watch_budget, daemon=True)
    started = time.monotonic()
    with SimSampler(live):
        watcher.start()
        seed(live, [f"Memo {i}: storm drill at depot {i}." for i in range(BATCH)], tenant=tenant)
        wait_until(lambda: status_counts(live).get("succeeded", 0) >= 30, timeout=120, what="30")
        live.sim("/sim/config", {"down_models": [PRIMARY]})
        time.sleep(10)
        live.sim("/sim/config", {"down_models": []})
        counts = wait_until_terminal(live, BATCH, timeout=300)
        stop.set()
        watcher.join(timeout=5)
    took = time.monotonic() - started
    audit = audit_ledger(live)
    stats = live.sim("/sim/stats?samples=0")["by_model"]
    with live.session() as session:
        ledger_cost = Decimal(
            session.scalar(select(func.coalesce(func.sum(LlmCall.cost_usd), 0))) or 0
        )
        by_model = dict(session.execute(select(Job.model, func.count()).group_by(Job.model)).all())
        open_holds = session.scalar(
            select(func.count()).where(BudgetReservation.settled_at.is_(None))
        )
    peak = {m: stats.get(m, {}).get("max_in_flight", 0) for m in (PRIMARY, FALLBACK)}
    faults = {m: stats.get(m, {}).get("faults", 0) for m in (PRIMARY, FALLBACK)}
    print(
        f"\nstorm: {counts} in {took:.1f} s; results by model {by_model}; peak in flight "
        f"{peak} (cap {CAP}); faults served {faults}; spent {ledger_cost} USD, peak committed "
        f"{max(committed, default=0)} of {BUDGET}"
    )

    assert counts == {"succeeded": BATCH}
    assert audit.unbilled == [], "the provider saw calls the ledger does not have"
    assert audit.rows == audit.requests, "with no kill, every row is a request the provider saw"
    assert all(p <= CAP for p in peak.values()), peak
    assert committed
    assert max(committed) <= BUDGET
    assert ledger_cost <= BUDGET
    assert open_holds == 0, "a reservation was never settled"
    assert _committed(live, tenant.id) == ledger_cost, "spend differs from the ledger"
    assert by_model.get(FALLBACK, 0) > 0, "the fallback model never took over"
    assert faults[PRIMARY] > 0
    assert faults[FALLBACK] > 0
