"""Redis SIGKILLed mid-batch and restarted: every job succeeds, and none is billed twice.

The issue's repro (17, point 1): post-call bookkeeping (bucket correction, slot release)
raised RedisError after the provider had answered, the worker handed the job back, and
the retry made a second successful, billed call.
"""

from __future__ import annotations

import os
import signal
import time

import pytest
from sqlalchemy import func, select

from scripts.devstack.procs import pid_alive, read_pid
from scripts.devstack.redis import is_redis_process
from storage.models import Job, LlmCall
from tests.support.faults import ok_calls
from tests.support.seeding import seed
from tests.support.stacks import FaultServers, FaultStackFactory, WorkerSpec
from tests.support.waits import status_counts, wait_until, wait_until_terminal

pytestmark = [pytest.mark.faults, pytest.mark.e2e]

BATCH = 400
LATENCY_MS = 300
KILL_AFTER_S = 1.5  # after the first job started running, and not before a first answer
DOWN_FOR_S = 2.0
WORKERS = [WorkerSpec(name="w0", concurrency=16), WorkerSpec(name="w1", concurrency=16)]


def _sigkill_redis(servers: FaultServers) -> None:
    """SIGKILL the fault Redis (no shutdown, no goodbye to clients) and wait until it is gone."""
    pid = read_pid(servers.redis.pidfile)
    assert pid is not None, "the fault Redis has no pid file"
    assert is_redis_process(pid), "the fault Redis is not running"
    os.kill(pid, signal.SIGKILL)
    wait_until(lambda: not pid_alive(pid), timeout=10, what="redis-server gone")


@pytest.mark.timeout(600)
def test_a_redis_kill_and_restart_mid_batch_bills_no_job_twice(
    fault_stack: FaultStackFactory, fault_servers: FaultServers
) -> None:
    live = fault_stack(name="rkill", workers=WORKERS, sim_latency_ms=LATENCY_MS)
    seed(live, [f"Memo {i}: Redis kill drill, site {i} reports normal." for i in range(BATCH)])
    wait_until(lambda: status_counts(live).get("running", 0) > 0, timeout=60, what="a running job")
    started = time.monotonic()
    # Cold workers can take longer than that for their first answer: the kill must land
    # while answered calls are being booked, so wait for one.
    wait_until(lambda: ok_calls(live) > 0, timeout=60, what="a first answered call")
    time.sleep(max(0.0, started + KILL_AFTER_S - time.monotonic()))
    _sigkill_redis(fault_servers)
    answered_at_kill, done_at_kill = ok_calls(live), status_counts(live).get("succeeded", 0)
    time.sleep(DOWN_FOR_S)
    fault_servers.redis.start()  # same port, empty: queues and flow keys are gone

    counts = wait_until_terminal(live, BATCH, timeout=420)
    with live.session() as session:
        per_job = (
            select(LlmCall.job_id)
            .where(LlmCall.outcome == "ok")
            .group_by(LlmCall.job_id)
            .having(func.count() > 1)
        )
        billed_twice = [str(j) for j in session.scalars(per_job)]
        attempts = session.scalar(select(func.max(Job.attempts)))
    print(
        f"\nat the kill: {answered_at_kill} calls answered, {done_at_kill}/{BATCH} done;"
        f" max attempts {attempts}; jobs with two successful calls: {len(billed_twice)}"
    )
    assert answered_at_kill > 0, "the kill came before any call was answered"
    assert done_at_kill < BATCH, "the kill came after the batch"
    assert counts == {"succeeded": BATCH}
    assert billed_twice == []
    assert ok_calls(live) == BATCH  # one answered call per (single-chunk) job
