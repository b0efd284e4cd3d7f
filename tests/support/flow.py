"""Helpers of the flow-control end-to-end tests: one stack at a time, probes, the CLI."""

from __future__ import annotations

import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import redis
from celery import Celery
from sqlalchemy import select

from storage.models import Job
from tasks.celery.app import app
from tasks.dispatch.queues import TASK_NAME, queue_name
from tasks.flow.semaphore import RedisSlotLimiter
from tests.support.stacks import TEST_OVERRIDES, LiveStack, StackFactory, WorkerSpec
from tests.support.tenants import Tenant
from tests.support.waits import wait_for, wait_until_terminal

MODEL = "gpt-5.6-luna"  # first model of the low tier's chain
LEASE_TTL_S = float(TEST_OVERRIDES["semaphore"]["lease_ttl_s"])
HEARTBEAT_S = float(TEST_OVERRIDES["semaphore"]["heartbeat_s"])


@contextmanager
def running(
    stack_factory: StackFactory,
    *,
    name: str,
    workers: list[WorkerSpec],
    overrides: dict[str, dict[str, Any]] | None = None,
    sim_latency_ms: int = 0,
) -> Iterator[LiveStack]:
    """An isolated stack, stopped when the block ends (the CPU is free for the next one)."""
    live = stack_factory(
        name=name, overrides=overrides, workers=workers, sim_latency_ms=sim_latency_ms
    )
    try:
        yield live
    finally:
        live.close()


def memo(i: int, *, filler_words: int = 12) -> str:
    """A distinct short document; equal `filler_words` give equal token counts."""
    return f"Memo {i:05d} from the platform team. " + "Spending review notes. " * filler_words


def wait_terminal(live: LiveStack, tenant: Tenant, total: int, *, timeout: float) -> None:
    """Wait until `total` of the tenant's jobs are terminal."""
    wait_until_terminal(live, total, timeout=timeout, tenant=tenant, every=0.25)


def jobs_of(live: LiveStack, tenant: Tenant) -> list[Job]:
    """Every job of the tenant, detached from its session."""
    with live.session() as session:
        return list(session.scalars(select(Job).where(Job.tenant_id == uuid.UUID(tenant.id))))


def limiter_for(live: LiveStack) -> RedisSlotLimiter:
    """A semaphore client on the stack's Redis, configured like the workers'."""
    return RedisSlotLimiter(
        redis.Redis.from_url(live.redis_url),
        lease_ttl_s=LEASE_TTL_S,
        heartbeat_s=HEARTBEAT_S,
        acquire_timeout_s=1.0,
    )


def utilisation(samples: list[list[float]], cap: int) -> float:
    """Mean in-flight over the cap, from the first sample with a request to the last."""
    busy = [i for i, (_, n) in enumerate(samples) if n > 0]
    assert busy, "nothing was ever in flight"
    window = samples[busy[0] : busy[-1] + 1]
    return statistics.fmean(n for _, n in window) / cap


def max_overlap(intervals: list[tuple[dt.datetime, dt.datetime]]) -> int:
    """The most intervals open at one instant (an end at t closes before a start at t)."""
    events = sorted([(s, 1) for s, _ in intervals] + [(e, -1) for _, e in intervals])
    open_now = peak = 0
    for _, step in events:
        open_now += step
        peak = max(peak, open_now)
    return peak


def requeued_lost(live: LiveStack) -> bool:
    """True once the reconciler has published unclaimed jobs again (scheduler log)."""
    for line in live.stack.log_tail("scheduler", 500).splitlines():
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if event.get("event") == "reconciled" and event.get("requeued_queued"):
            return True
    return False


def cli(live: LiveStack, *args: str) -> dict[str, Any]:
    """Run the `docqueue` CLI as a subprocess with the stack's environment; parse its JSON."""
    done = subprocess.run(
        [sys.executable, "-m", "scripts.cli", *args],
        env={**os.environ, **live.env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def wait_workers(live: LiveStack, count: int) -> None:
    """Wait until `count` Celery workers of the stack answer a ping (booted, consuming)."""
    # A client app of its own: Celery's mailbox publishes through the app's default pool,
    # which points at the test process's broker, not the stack's.
    client = Celery("docqueue-probe", broker=live.redis_url)
    try:
        wait_for(lambda: len(client.control.ping(timeout=0.5)) >= count, timeout=90, every=0.1)
    finally:
        client.close()


def publish(live: LiveStack, job_id: uuid.UUID, *, tier: str = "low") -> None:
    """Deliver a job id straight to a tier queue, bypassing the scheduler."""
    with app.connection_for_write(live.redis_url) as conn:
        app.amqp.queues[queue_name(tier)].bind(conn.default_channel).declare()
        app.send_task(TASK_NAME, args=[str(job_id)], queue=queue_name(tier), connection=conn)
