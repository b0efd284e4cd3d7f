"""Redis loses everything, Redis restarts, Postgres restarts: the batch still completes."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Callable

import pytest
from sqlalchemy import func, select

from storage.models import Job
from tests.support.faults import audit_ledger, worker_id
from tests.support.seeding import seed
from tests.support.stacks import FaultServers, FaultStackFactory, LiveStack, WorkerSpec
from tests.support.waits import status_counts, wait_until, wait_until_terminal

pytestmark = [pytest.mark.faults, pytest.mark.e2e]

BATCH = 300
WORKERS = [WorkerSpec(name="w0", concurrency=16), WorkerSpec(name="w1", concurrency=16)]


def _batch_with_fault(
    live: LiveStack, fault: Callable[[], None], *, label: str
) -> tuple[dict[str, int], float]:
    """Seed a batch, run `fault` once a quarter of it is done, wait for the end."""
    seed(live, [f"Memo {i}: {label} drill, site {i} reports normal." for i in range(BATCH)])
    wait_until(
        lambda: status_counts(live).get("succeeded", 0) >= BATCH // 4,
        timeout=120,
        what="a quarter of the batch",
    )
    fault()
    hit = time.monotonic()
    done_before = status_counts(live).get("succeeded", 0)
    counts = wait_until_terminal(live, BATCH, timeout=240)
    recovered = time.monotonic() - hit
    audit = audit_ledger(live)
    print(
        f"\n{label}: {done_before}/{BATCH} done at the fault; terminal {recovered:.1f} s later; "
        f"ledger rows {audit.rows}, provider requests {audit.requests}"
    )
    # Every call the provider saw is in the ledger, and every row is a call it saw.
    assert audit.unbilled == []
    assert audit.unexplained == []
    return counts, recovered


def _workers_alive(live: LiveStack) -> bool:
    return all(live.stack.procs[w.name].poll() is None for w in WORKERS)


def test_redis_flushall_mid_batch_still_completes_every_job(
    fault_stack: FaultStackFactory, fault_servers: FaultServers
) -> None:
    live = fault_stack(name="flush", workers=WORKERS, sim_latency_ms=200)

    def flush() -> None:
        cli = shutil.which("redis-cli")
        if cli is None:
            fault_servers.redis.flushall()
            return
        subprocess.run(
            [cli, "-p", str(fault_servers.redis.port), "FLUSHALL"], check=True, timeout=10
        )

    counts, _ = _batch_with_fault(live, flush, label="FLUSHALL")
    assert counts == {"succeeded": BATCH}
    assert _workers_alive(live)


def test_redis_restart_mid_batch_still_completes_every_job(
    fault_stack: FaultStackFactory, fault_servers: FaultServers
) -> None:
    live = fault_stack(name="redis", workers=WORKERS, sim_latency_ms=200)

    def restart() -> None:
        fault_servers.redis.stop()
        time.sleep(2.0)
        fault_servers.redis.start()

    counts, _ = _batch_with_fault(live, restart, label="Redis restart")
    assert counts == {"succeeded": BATCH}
    assert _workers_alive(live)


def test_postgres_restart_mid_batch_ends_every_job_and_workers_carry_on(
    fault_stack: FaultStackFactory, fault_servers: FaultServers
) -> None:
    live = fault_stack(name="pg", workers=WORKERS, sim_latency_ms=200)
    ids = {worker_id(live, w.name) for w in WORKERS}
    restarted_at: list[float] = []

    def restart() -> None:
        fault_servers.pg.restart()
        restarted_at.append(time.time())

    counts, _ = _batch_with_fault(live, restart, label="Postgres restart")
    with live.session() as session:
        after = session.scalar(
            select(func.count()).where(
                Job.worker.in_(ids),
                Job.finished_at > func.to_timestamp(restarted_at[0]),
            )
        )
    print(f"jobs the same workers finished after the restart: {after}; {counts}")
    assert sum(counts.values()) == BATCH
    assert counts == {"succeeded": BATCH}
    assert _workers_alive(live)
    assert after, "the workers did no work after Postgres came back"
