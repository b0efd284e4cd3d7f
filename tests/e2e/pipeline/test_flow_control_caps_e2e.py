"""Flow control on real processes: the model cap across workers, and a crashed worker's slots.

Every test builds its own isolated stack (simulator, API, scheduler, Celery workers, a fresh
Postgres database and Redis DB) and stops it before the next one starts, so only one stack
competes for the CPU at a time. The design these tests prove: docs/flow-control.md.
"""

from __future__ import annotations

import signal
import threading
import time

import pytest

from tests.support.flow import (
    LEASE_TTL_S,
    MODEL,
    jobs_of,
    limiter_for,
    memo,
    running,
    utilisation,
    wait_terminal,
    wait_workers,
)
from tests.support.seeding import insert_jobs
from tests.support.stacks import StackFactory, WorkerSpec
from tests.support.waits import wait_for

pytestmark = pytest.mark.e2e


# ---------------------------------------------------------------------------- 1. model cap

# 500 ms, not 100: ten slots of 100 ms calls need 100 jobs/s, and every job also costs
# ~25-30 ms of CPU across worker, Postgres and simulator, so on 2 cores the CPU, not the
# cap, would bind. At 500 ms the cap binds (20 jobs/s) and the run still takes ~25 s.
CAP_LATENCY_MS = 500


@pytest.mark.faults  # slow: `make test-faults`
def test_cap_of_ten_holds_across_two_worker_processes(stack_factory: StackFactory) -> None:
    cap, total = 10, 500
    workers = [WorkerSpec(name=f"w{i}", tiers="low", concurrency=16) for i in (1, 2)]
    with running(
        stack_factory,
        name="cap10",
        workers=workers,
        overrides={"models": {MODEL: {"concurrency": cap}}},
        sim_latency_ms=CAP_LATENCY_MS,
    ) as live:
        tenant = live.tenant("capped", concurrency=64)  # the model cap, not the tenant, binds
        limiter = limiter_for(live)
        held: list[int] = []  # the semaphore's own count of live leases, every 50 ms
        stop = threading.Event()

        def watch_semaphore() -> None:
            while not stop.is_set():
                held.append(limiter.in_use(MODEL))
                stop.wait(0.05)

        wait_workers(live, len(workers))  # 32 threads contend for 10 slots from the start
        watcher = threading.Thread(target=watch_semaphore, daemon=True)
        watcher.start()
        started = time.monotonic()
        try:
            insert_jobs(live, tenant, [memo(i) for i in range(total)])
            wait_terminal(live, tenant, total, timeout=180)
        finally:
            stop.set()
            watcher.join(timeout=5)
        elapsed = time.monotonic() - started
        stats = live.sim("/sim/stats")
        jobs = jobs_of(live, tenant)

    assert {j.status for j in jobs} == {"succeeded"}
    assert stats["by_model"][MODEL]["requests"] == total
    assert stats["by_model"][MODEL]["max_in_flight"] <= cap
    assert stats["max_in_flight"] <= cap
    assert max(held) <= cap
    # both processes drew slots from the one Redis semaphore
    per_worker = {w: sum(1 for j in jobs if j.worker == w) for w in {j.worker for j in jobs}}
    assert len(per_worker) == 2, per_worker
    assert min(per_worker.values()) >= total // 10, per_worker
    used = utilisation(stats["inflight_samples"], cap)
    leased = utilisation([[0.0, float(n)] for n in held], cap)
    print(
        f"\ncap utilisation at the provider {used:.3f} (mean in flight {used * cap:.2f} of "
        f"{cap}); slots leased {leased:.3f}; max in flight "
        f"{stats['by_model'][MODEL]['max_in_flight']}; {total} jobs of {CAP_LATENCY_MS} ms in "
        f"{elapsed:.1f} s; jobs per worker {sorted(per_worker.values())}"
    )
    assert stats["by_model"][MODEL]["max_in_flight"] == cap  # the cap was reached...
    # ...and the semaphore kept it full. The slots' own count is the claim under test; the
    # provider's view adds each job's CPU outside the call, a speed figure that a loaded
    # 2-core CI box moves (0.92 quiet, 0.79 under the full suite): `make bench` owns it.
    assert leased >= 0.85
    assert used >= 0.6  # a floor that still catches a serialised cap


# ---------------------------------------------------------------------------- 2. crash


@pytest.mark.faults  # slow: `make test-faults`
def test_sigkilled_worker_frees_its_slots_within_the_ttl_and_its_jobs_finish(
    stack_factory: StackFactory,
) -> None:
    cap = 4
    with running(
        stack_factory,
        name="sigkill",
        workers=[WorkerSpec(name="worker_a", tiers="low", concurrency=cap)],
        overrides={"models": {MODEL: {"concurrency": cap}}},
        sim_latency_ms=4000,
    ) as live:
        tenant = live.tenant("crash")
        limiter = limiter_for(live)
        ids = insert_jobs(live, tenant, [memo(i) for i in range(cap)])
        wait_for(lambda: limiter.in_use(MODEL) == cap, timeout=90, every=0.05)
        # every slot is held by one of A's 4 s calls, all just started: kill their holder
        live.stack.signal("worker_a", signal.SIGKILL)
        killed = time.monotonic()
        live.stack.procs["worker_a"].wait(timeout=10)
        held_at_kill = limiter.in_use(MODEL)
        assert held_at_kill > 0  # nobody released anything: the dead worker's leases linger
        # B boots meanwhile; it has nothing to run until A's jobs are reclaimed
        live.stack.worker(name="worker_b", tiers="low", concurrency=cap)
        wait_for(lambda: limiter.in_use(MODEL) == 0, timeout=LEASE_TTL_S + 5, every=0.05)
        freed_after = time.monotonic() - killed
        print(f"\nslots of the SIGKILLed worker freed {freed_after:.2f} s after the kill")
        assert freed_after <= LEASE_TTL_S + 1.5

        live.sim("/sim/config", {"latency_ms": 0})  # the rerun need not be slow
        worker_b = f":{live.stack.procs['worker_b'].pid}"
        wait_terminal(live, tenant, len(ids), timeout=120)
        jobs = jobs_of(live, tenant)
        expired = limiter.expired_total(MODEL)

    assert {j.status for j in jobs} == {"succeeded"}, [(j.status, j.error_message) for j in jobs]
    # each job was claimed by A (attempt 1), then, once its job lease ran out, by B
    assert all((j.worker or "").endswith(worker_b) for j in jobs)
    assert all(j.attempts == 2 for j in jobs), [j.attempts for j in jobs]
    assert expired >= held_at_kill  # A's leases ran out: they were never released
