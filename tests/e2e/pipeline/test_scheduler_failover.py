"""Two schedulers on one database: one leads, the other takes over when it is killed.

Real processes: two `docqueue scheduler`, a worker, the API, the simulator, Postgres and
Redis. The leader is killed with SIGKILL in the middle of a batch; the standby must take
over within seconds, the tenant's per-tier cap must hold throughout, and no job may run
to completion twice.
"""

from __future__ import annotations

import itertools
import signal
import time
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import text

from tests.support.stacks import LiveStack, StackFactory, WorkerSpec
from tests.support.waits import wait_batch, wait_until

pytestmark = pytest.mark.e2e

CAP = 3  # the tenant's concurrency
JOBS = 150


@pytest.fixture(scope="module")
def stack(stack_factory: StackFactory) -> Iterator[LiveStack]:
    """No scheduler of the builder's own: the test starts two."""
    made = stack_factory(
        name="failover",
        workers=[WorkerSpec("w1", concurrency=8)],
        sim_latency_ms=150,
        scheduler=False,
    )
    yield made
    made.close()


def _leads(stack: LiveStack, name: str) -> bool:
    log = stack.stack.run_dir / f"{name}.log"
    return log.exists() and "scheduler_leader" in log.read_text(errors="replace")


def _max_overlap(intervals: list[tuple[float, float]]) -> int:
    """The most intervals open at one instant (an end before a start at the same time)."""
    edges = sorted(
        itertools.chain(((s, 1) for s, _ in intervals), ((e, -1) for _, e in intervals)),
        key=lambda edge: (edge[0], edge[1]),
    )
    running = peak = 0
    for _, step in edges:
        running += step
        peak = max(peak, running)
    return peak


def test_the_standby_takes_over_from_a_killed_leader_and_the_cap_holds(
    stack: LiveStack,
) -> None:
    stack.stack.scheduler(name="scheduler_a")
    wait_until(lambda: _leads(stack, "scheduler_a"), timeout=30, what="scheduler_a to lead")
    stack.stack.scheduler(name="scheduler_b")
    time.sleep(2.0)  # b is up and standing by
    assert not _leads(stack, "scheduler_b")
    tenant = stack.tenant("failover", concurrency=CAP)
    docs = [{"text": f"Memo {i}: due 2026-03-01.", "key": f"m{i}"} for i in range(JOBS)]
    with stack.client(tenant, timeout=60) as client:
        made = client.post("/v1/batches", json={"schema": "document_summary", "documents": docs})
        assert made.status_code == 202, made.text
        batch_id = made.json()["id"]

        def done() -> int:
            counts = client.get(f"/v1/batches/{batch_id}").json()["counts"]
            return int(counts.get("succeeded", 0))

        wait_until(lambda: done() >= JOBS // 4, timeout=60, what="a quarter of the batch")
        stack.stack.procs["scheduler_a"].send_signal(signal.SIGKILL)
        killed = time.monotonic()
        wait_until(lambda: _leads(stack, "scheduler_b"), timeout=10, what="scheduler_b to lead")
        took = time.monotonic() - killed
        summary = wait_batch(client, batch_id, timeout=180)
    assert summary["counts"].get("succeeded") == JOBS, summary
    assert took < 5.0
    with stack.session() as session:
        rows = session.execute(
            text(
                "SELECT j.id, j.attempts, extract(epoch FROM j.started_at),"
                " extract(epoch FROM j.finished_at),"
                " (SELECT count(*) FROM llm_calls c WHERE c.job_id = j.id)"
                " FROM jobs j WHERE j.batch_id = :b"
            ),
            {"b": uuid.UUID(batch_id)},
        ).all()
    assert len(rows) == JOBS
    assert all(calls == 1 for *_, calls in rows)  # nothing ran to completion twice
    assert all(attempts == 1 for _, attempts, *_ in rows)
    assert _max_overlap([(float(s), float(e)) for _, _, s, e, _ in rows]) <= CAP
