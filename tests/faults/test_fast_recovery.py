"""A tenant at its concurrency cap gets its throughput back within 20 s of a crash.

Production timings for the slow paths (a lost message waits `stuck_queued_s` = 120 s, a
dead worker's job its lease plus 60 s): only the fast paths can meet 20 s, a dead
worker's liveness key and Redis's epoch key.
"""

from __future__ import annotations

import datetime as dt
import signal
import time

import pytest

from tests.support.faults import running_on, worker_id
from tests.support.recovery import Throughput, kill_redis, open_holds
from tests.support.seeding import seed
from tests.support.stacks import (
    TEST_OVERRIDES,
    FaultServers,
    FaultStackFactory,
    LiveStack,
    WorkerSpec,
)
from tests.support.tenants import Tenant
from tests.support.waits import status_counts, wait_until, wait_until_terminal

pytestmark = [pytest.mark.faults, pytest.mark.e2e]

CAP = 8
BATCH = 280  # about 40 s of work at the cap with 1 s calls; the fault comes at about 8 s
TARGET_S = 20.0
SLOW_PATHS = {**TEST_OVERRIDES["dispatch"], "stuck_queued_s": 120, "requeue_running_grace_s": 60}
WORKERS = [WorkerSpec(name="w0", concurrency=CAP), WorkerSpec(name="w1", concurrency=CAP)]


def _capped_batch(fault_stack: FaultStackFactory, name: str) -> tuple[LiveStack, Tenant]:
    live = fault_stack(
        name=name, overrides={"dispatch": SLOW_PATHS}, workers=WORKERS, sim_latency_ms=1000
    )
    tenant = live.tenant("capped", concurrency=CAP)
    seed(
        live, [f"Memo {i}: {name} drill, site {i} is nominal." for i in range(BATCH)], tenant=tenant
    )
    return live, tenant


def _steady(live: LiveStack, tenant: Tenant) -> None:
    wait_until(
        lambda: status_counts(live, tenant).get("succeeded", 0) >= 4 * CAP,
        timeout=120,
        what="the batch running at the cap",
    )


def test_a_sigkilled_workers_jobs_are_requeued_and_the_capped_tenant_is_back_within_20_s(
    fault_stack: FaultStackFactory,
) -> None:
    live, tenant = _capped_batch(fault_stack, "deadworker")
    victim = worker_id(live, "w0")
    with Throughput(live, tenant) as flow:
        _steady(live, tenant)
        wait_until(lambda: len(running_on(live, victim)) >= 2, timeout=30, what="w0 busy")
        time.sleep(3.0)  # a baseline window at the cap
        held = running_on(live, victim)
        killed_at, killed_wall = time.monotonic(), dt.datetime.now(dt.UTC)
        baseline = flow.rate(killed_at - 3.0, killed_at)
        live.stack.signal("w0", signal.SIGKILL)
        live.stack.procs["w0"].wait(timeout=10)
        wait_until(
            lambda: not running_on(live, victim), timeout=60, what="the dead worker's jobs requeued"
        )
        requeued_after = time.monotonic() - killed_at
        holds_left = open_holds(live, held, before=killed_wall)
        time.sleep(max(0.0, TARGET_S + 4.0 - (time.monotonic() - killed_at)))
        back = flow.back_after(killed_at, baseline=baseline)
    counts = wait_until_terminal(live, BATCH, timeout=240, tenant=tenant)
    print(
        f"\nSIGKILL of a worker holding {len(held)} of the tenant's {CAP} slots: "
        f"requeued after {requeued_after:.1f} s, throughput ({baseline:.1f} jobs/s before) "
        f"back after {back:.1f} s; holds left open {holds_left}"
    )
    assert counts == {"succeeded": BATCH}
    assert requeued_after < TARGET_S  # the lease path alone would take 20 s + 60 s
    assert back <= TARGET_S
    assert holds_left == 0, "the dead worker's budget holds must be settled with the requeue"


def test_a_redis_restart_with_its_data_lost_is_noticed_and_the_capped_tenant_is_back_within_20_s(
    fault_stack: FaultStackFactory, fault_servers: FaultServers
) -> None:
    live, tenant = _capped_batch(fault_stack, "redisloss")
    with Throughput(live, tenant) as flow:
        _steady(live, tenant)
        time.sleep(3.0)
        killed_at = time.monotonic()
        baseline = flow.rate(killed_at - 3.0, killed_at)
        kill_redis(fault_servers.redis)
        time.sleep(1.0)
        fault_servers.redis.start()  # same port and directory, no data
        wait_until(
            lambda: "redis_data_lost" in live.stack.log_tail("scheduler", 200),
            timeout=30,
            what="the scheduler to notice the lost data",
        )
        noticed_after = time.monotonic() - killed_at
        time.sleep(max(0.0, TARGET_S + 4.0 - (time.monotonic() - killed_at)))
        back = flow.back_after(killed_at, baseline=baseline)
    counts = wait_until_terminal(live, BATCH, timeout=240, tenant=tenant)
    print(
        f"\nRedis SIGKILL + restart 1 s later: data loss noticed after {noticed_after:.1f} s, "
        f"throughput ({baseline:.1f} jobs/s before) back after {back:.1f} s"
    )
    assert counts == {"succeeded": BATCH}
    assert back <= TARGET_S  # the lost-message path alone would take 120 s
    assert all(live.stack.procs[w.name].poll() is None for w in WORKERS)
