"""Workers die without warning (SIGKILL) and stall (SIGSTOP): no job is lost or written twice."""

from __future__ import annotations

import signal
import time

import pytest
from sqlalchemy import func, select

from storage.models import Job, LlmCall
from tests.support.faults import (
    audit_ledger,
    install_terminal_write_audit,
    ok_calls,
    running_on,
    start_worker,
    terminal_writes_per_job,
    worker_id,
)
from tests.support.seeding import seed, submit
from tests.support.stacks import TEST_OVERRIDES, FaultStackFactory, WorkerSpec
from tests.support.waits import status_counts, wait_until, wait_until_terminal

pytestmark = [pytest.mark.faults, pytest.mark.e2e]

BATCH = 1000
KILLS = 5


def test_five_sigkills_during_a_batch_lose_no_job_write_each_result_once_and_bill_every_call(
    fault_stack: FaultStackFactory,
) -> None:
    live = fault_stack(
        name="kills",
        # Only lost messages need re-sending here; 5 s would re-send a busy queue's backlog.
        overrides={"dispatch": {**TEST_OVERRIDES["dispatch"], "stuck_queued_s": 60}},
        workers=[WorkerSpec(name="w0", concurrency=16), WorkerSpec(name="w1", concurrency=16)],
        sim_latency_ms=250,
    )
    install_terminal_write_audit(live)
    started = time.monotonic()
    assert seed(live, [f"Memo {i}: the plant in sector {i} passed review." for i in range(BATCH)])

    alive = ["w0", "w1"]
    in_flight_at_kill: list[int] = []
    for kill in range(KILLS):
        time.sleep(2.0)
        victim = alive.pop(0)
        victim_id = worker_id(live, victim)

        def busy(v: str = victim_id) -> set[str]:
            return running_on(live, v)

        wait_until(busy, timeout=30, what=f"{victim} busy")
        live.stack.signal(victim, signal.SIGKILL)
        live.stack.procs[victim].wait(timeout=10)
        # Dead now: whatever it held stays "running" until its lease expires.
        in_flight_at_kill.append(len(running_on(live, victim_id)))
        replacement = f"w{kill + 2}"
        start_worker(live, WorkerSpec(name=replacement, concurrency=16))
        alive.append(replacement)
    assert status_counts(live).get("succeeded", 0) < BATCH, "the kills came after the batch"

    counts = wait_until_terminal(live, BATCH, timeout=300)
    took = time.monotonic() - started
    writes = terminal_writes_per_job(live)
    calls = ok_calls(live)
    with live.session() as session:
        retried = session.scalar(select(func.count()).where(Job.attempts > 1))
        orphan_calls = session.scalar(
            select(func.count())
            .select_from(LlmCall)
            .join(Job, Job.id == LlmCall.job_id)
            .where(LlmCall.outcome == "ok", LlmCall.attempt != Job.attempts)
        )
    audit = audit_ledger(live)
    with live.session() as session:
        outcomes = dict(
            session.execute(select(LlmCall.outcome, func.count()).group_by(LlmCall.outcome)).all()
        )
    print(
        f"\nledger rows {audit.rows} {outcomes}, provider requests {audit.requests}; "
        f"{BATCH} jobs all terminal after {took:.1f} s; "
        f"in flight at each kill {in_flight_at_kill}; jobs run more than once {retried}; "
        f"ok calls {calls} ({orphan_calls} by killed attempts)"
    )

    assert counts == {"succeeded": BATCH}
    assert audit.unbilled == [], "the provider saw calls the ledger does not have"
    assert audit.unexplained == [], "rows the provider never saw must be calls cut by a kill"
    assert len(writes) == BATCH
    assert set(writes.values()) == {1}, "a job was written twice"
    assert calls <= BATCH + sum(in_flight_at_kill)
    assert (orphan_calls or 0) <= sum(in_flight_at_kill)


def test_a_worker_stopped_past_its_lease_is_fenced_out_when_it_resumes(
    fault_stack: FaultStackFactory,
) -> None:
    lease_ttl = 1.5  # the job lease is 4x this: 6 s
    live = fault_stack(
        name="stop",
        overrides={"semaphore": {"lease_ttl_s": lease_ttl, "heartbeat_s": 0.5}},
        workers=[WorkerSpec(name="sleeper", concurrency=2)],
    )
    install_terminal_write_audit(live)
    (job_id,) = submit(live, ["Memo: the stale writer. [[sim:latency_ms=2500]]"])
    sleeper = worker_id(live, "sleeper")
    wait_until(lambda: job_id in running_on(live, sleeper), timeout=60, what="claimed")
    time.sleep(0.5)  # its provider call is under way
    live.stack.signal("sleeper", signal.SIGSTOP)
    try:
        start_worker(live, WorkerSpec(name="rescuer", concurrency=2))
        rescued = wait_until_terminal(live, 1, timeout=90)
    finally:
        live.stack.signal("sleeper", signal.SIGCONT)
    with live.session() as session:
        after_rescue = session.execute(
            select(Job.worker, Job.attempts, Job.result, Job.finished_at).where(Job.id == job_id)
        ).one()
    # The sleeper wakes up with its answer and tries to write it as attempt 1.
    wait_until(
        lambda: "job_write_fenced" in live.stack.log_tail("sleeper", 100),
        timeout=60,
        what="the stale attempt's write to be refused",
    )
    with live.session() as session:
        final = session.execute(
            select(Job.worker, Job.attempts, Job.result, Job.finished_at).where(Job.id == job_id)
        ).one()
        stale_calls = session.scalar(
            select(func.count()).where(LlmCall.job_id == job_id, LlmCall.attempt == 1)
        )
    print(f"\nrescued {rescued}; final attempt {final[1]} by {final[0]}; stale calls {stale_calls}")

    assert rescued == {"succeeded": 1}
    assert final == after_rescue, "the stale attempt changed the job"
    assert final[0] == worker_id(live, "rescuer")
    assert final[1] == 2
    assert terminal_writes_per_job(live) == {job_id: 1}
    fenced = [ln for ln in live.stack.log_tail("sleeper", 100).splitlines() if "fenced" in ln]
    assert any('"attempt": 1' in ln for ln in fenced), fenced
