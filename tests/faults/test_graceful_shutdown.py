"""SIGTERM drains a worker: no new jobs, in-flight ones finish or are handed back in time."""

from __future__ import annotations

import signal
import time

import pytest
from sqlalchemy import select

from storage.models import Job
from tests.support.faults import audit_ledger, live_leases, running_on, start_worker, worker_id
from tests.support.seeding import submit
from tests.support.stacks import FaultStackFactory, WorkerSpec
from tests.support.waits import wait_until, wait_until_terminal

pytestmark = [pytest.mark.faults, pytest.mark.e2e]

GRACE_S = 6.0
EXIT_MARGIN_S = 10.0  # hand-back, Celery teardown, a loaded 2-core machine
SHORT_MS, LONG_MS = 1500, 12000  # finishes within the grace period / outlasts it


def test_sigterm_finishes_short_jobs_hands_back_long_ones_and_exits_within_grace(
    fault_stack: FaultStackFactory,
) -> None:
    live = fault_stack(
        name="drain",
        overrides={"celery": {"shutdown_grace_s": GRACE_S}},
        workers=[WorkerSpec(name="victim", concurrency=8)],
    )
    texts = [
        f"Memo {i}: unit {i} figures. [[sim:latency_ms={LONG_MS if i % 2 else SHORT_MS}]]"
        for i in range(16)
    ]
    ids = submit(live, texts)
    long_jobs = {job_id for i, job_id in enumerate(ids) if i % 2}
    victim = worker_id(live, "victim")
    wait_until(lambda: len(running_on(live, victim)) == 8, timeout=60, what="8 jobs running")
    held = running_on(live, victim)

    started = time.monotonic()
    live.stack.signal("victim", signal.SIGTERM)
    start_worker(live, WorkerSpec(name="survivor", concurrency=16))
    code = live.stack.procs["victim"].wait(timeout=GRACE_S + 60)
    took = time.monotonic() - started
    # Handed back, not left to a lease expiry: nothing is still "running" on the dead worker.
    stranded = running_on(live, victim)
    print(f"\nvictim exit code {code} after {took:.1f} s (grace {GRACE_S} s); held {len(held)}")

    assert GRACE_S - 0.5 <= took <= GRACE_S + EXIT_MARGIN_S
    assert stranded == set()
    counts = wait_until_terminal(live, len(ids), timeout=120)
    assert counts == {"succeeded": len(ids)}
    audit = audit_ledger(live)  # calls cut by the hand-back are billed at their worst case
    assert audit.unbilled == []
    assert audit.unexplained == []

    with live.session() as session:
        rows = session.execute(select(Job.id, Job.worker, Job.attempts)).all()
    by_id = {str(job_id): (worker, attempts) for job_id, worker, attempts in rows}
    finished_by_victim = {job_id for job_id, (w, _) in by_id.items() if w == victim}
    held_short, held_long = held - long_jobs, held & long_jobs
    assert held_short, "the victim should hold short jobs at SIGTERM"
    assert held_long, "the victim should hold long jobs at SIGTERM"
    # It took no new job after SIGTERM, finished the short ones within the grace period...
    assert finished_by_victim == held_short
    # ...and the long ones were run again, to the end, by the other worker.
    survivor = worker_id(live, "survivor")
    assert all(by_id[j] == (survivor, 2) for j in held_long), {j: by_id[j] for j in held_long}

    # The stuck calls' slots were never released by their threads; their leases ran out.
    wait_until(
        lambda: not any(live_leases(live).values()), timeout=20, what="no semaphore lease left"
    )
    log = live.stack.log_tail("victim", 200)
    assert "shutdown_jobs_handed_back" in log
    assert "NotImplementedError" not in log
    print(f"handed back {len(held_long)} jobs; finished in grace {len(held_short)}")


def test_sigterm_waits_only_until_the_last_running_job_is_done(
    fault_stack: FaultStackFactory,
) -> None:
    grace = 60.0
    live = fault_stack(
        name="quickdrain",
        overrides={"celery": {"shutdown_grace_s": grace}},
        workers=[WorkerSpec(name="w", concurrency=4)],
    )
    (job_id,) = submit(live, ["Memo: last one out. [[sim:latency_ms=2500]]"])
    me = worker_id(live, "w")
    wait_until(lambda: job_id in running_on(live, me), timeout=60, what="the job running")
    started = time.monotonic()
    live.stack.signal("w", signal.SIGTERM)
    live.stack.procs["w"].wait(timeout=grace + 30)
    took = time.monotonic() - started
    print(f"\nexited {took:.1f} s after SIGTERM (grace {grace} s)")
    with live.session() as session:
        job = session.execute(select(Job.status, Job.worker, Job.attempts).where(Job.id == job_id))
        assert job.one() == ("succeeded", me, 1)
    assert took < 15, "the worker slept through the grace period after its job was done"
