"""Redis under Sentinel: the master is SIGKILLed in the middle of a 500-job batch.

Real processes: Debian's redis-server (a master and its replica) and three redis-sentinel,
the API, a worker, the scheduler and the simulator. Celery and flow control both reach
Redis through REDIS_URL in Sentinel form. After the failover every job must still end
`succeeded`, the model's concurrency cap must never have been exceeded (leases granted
before the kill were acknowledged by the replica, tasks/flow/connection.py), no job may be
billed twice, and the tenant's spend must equal its ledger, with nothing left reserved.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from scripts.devstack.sentinel import SentinelGroup
from storage.models import LlmCall, TenantSpend
from tests.support.faults import ok_calls
from tests.support.seeding import seed
from tests.support.stacks import StackFactory, WorkerSpec
from tests.support.waits import wait_until, wait_until_terminal

pytestmark = pytest.mark.e2e  # in `make test` (about 100 s), so CI runs it

BATCH = 500
CAP = 8
LATENCY_MS = 250
MODEL = "gpt-5.6-luna"  # the low tier's first model
BUDGET_USD = 50.0


@pytest.fixture(scope="module")
def group(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SentinelGroup]:
    """A master, a replica and three sentinels of our own."""
    made = SentinelGroup(tmp_path_factory.mktemp("sentinel"))
    made.start()
    yield made
    made.stop()


@pytest.mark.timeout(600)
def test_a_sentinel_failover_mid_batch_keeps_every_job_the_cap_and_the_budget(
    stack_factory: StackFactory, group: SentinelGroup
) -> None:
    live = stack_factory(
        name="sentinel",
        workers=[WorkerSpec(name="w0", tiers="low", concurrency=16)],
        overrides={
            "models": {MODEL: {"concurrency": CAP}},
            # a lease outlives the failover (about 3 s here) between two renewals
            "semaphore": {"lease_ttl_s": 15.0, "heartbeat_s": 1.0},
        },
        sim_latency_ms=LATENCY_MS,
        extra_env={"REDIS_URL": group.url(0)},
    )
    try:
        tenant = live.tenant("ha", concurrency=64, budget=BUDGET_USD)
        seed(live, [f"Memo {i}: failover drill at site {i}." for i in range(BATCH)], tenant=tenant)
        wait_until(lambda: ok_calls(live) >= BATCH // 5, timeout=120, what="a fifth answered")
        group.kill_master()
        took = group.wait_failover()
        answered_at_kill = ok_calls(live)
        counts = wait_until_terminal(live, BATCH, timeout=420, tenant=tenant)
        stats = live.sim("/sim/stats")
        with live.session() as session:
            who = uuid.UUID(tenant.id)
            twice = session.scalars(
                select(LlmCall.job_id)
                .where(LlmCall.tenant_id == who, LlmCall.outcome == "ok")
                .group_by(LlmCall.job_id)
                .having(func.count() > 1)
            ).all()
            ledger = session.scalar(
                select(func.coalesce(func.sum(LlmCall.cost_usd), 0)).where(LlmCall.tenant_id == who)
            )
            spend = session.execute(
                select(func.sum(TenantSpend.spent_usd), func.sum(TenantSpend.reserved_usd)).where(
                    TenantSpend.tenant_id == who, func.length(TenantSpend.period) == 7
                )
            ).one()
    finally:
        live.close()
    print(f"\nfailover in {took:.1f}s; {answered_at_kill}/{BATCH} answered at the kill")
    assert answered_at_kill < BATCH, "the failover came after the batch"
    assert counts == {"succeeded": BATCH}
    assert stats["by_model"][MODEL]["max_in_flight"] <= CAP
    assert list(twice) == []
    spent, reserved = Decimal(spend[0]), Decimal(spend[1])
    assert spent == Decimal(ledger or 0)  # every call billed once, in the month's total
    assert reserved == 0
    assert spent <= Decimal(str(BUDGET_USD))
