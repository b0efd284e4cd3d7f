"""The raw floor: no-op Celery tasks on Redis with docqueue's broker and worker settings.

The worker runs `celery -A scripts.bench.raw:app -b <redis> worker -P threads ...` with the
same flags as `docqueue worker`; each task only INCRs a Redis counter (no result backend),
so the publish-to-last-INCR time is what Celery + Redis alone cost on this machine.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path

import redis
from celery import Celery
from kombu import Exchange, Queue  # type: ignore[attr-defined]

from scripts.devstack.stack import PY, Stack

QUEUE = "bench.raw"
TASK = "bench.noop"
COUNTER = "bench:raw:done"
# The production app's settings that shape broker traffic, copied verbatim.
SHARED = (
    "task_ignore_result",
    "task_acks_late",
    "task_reject_on_worker_lost",
    "worker_prefetch_multiplier",
    "broker_transport_options",
    "broker_connection_retry_on_startup",
    "broker_pool_limit",
    "worker_send_task_events",
    "task_send_sent_event",
    "task_track_started",
    "worker_hijack_root_logger",
    "task_serializer",
    "accept_content",
)


def make_app(broker: str | None = None) -> Celery:
    """A bare Celery app with docqueue's broker settings and one no-op task."""
    from tasks.celery.app import app as production

    raw = Celery("bench_raw", broker=broker)
    raw.conf.update({key: production.conf[key] for key in SHARED})
    raw.conf.update(
        task_queues=[Queue(QUEUE, Exchange(QUEUE, type="direct"), routing_key=QUEUE)],  # type: ignore[no-untyped-call]
        task_default_queue=QUEUE,
    )
    return raw


app = make_app()
_local = threading.local()


@app.task(name=TASK)  # type: ignore[untyped-decorator]  # celery ships no type hints
def noop() -> None:
    """Count one completion in the broker's Redis DB."""
    client: redis.Redis | None = getattr(_local, "client", None)
    if client is None:
        client = _local.client = redis.Redis.from_url(app.conf.broker_url)
    client.incr(COUNTER)


@dataclass
class RawResult:
    """Raw floor throughput."""

    tasks: int
    seconds: float

    @property
    def per_s(self) -> float:
        """Tasks per second."""
        return self.tasks / self.seconds


def start_workers(stack: Stack, broker: str, workers: list[tuple[str, int]]) -> None:
    """Start raw workers with the same pool flags as `docqueue worker`."""
    from tasks.celery.app import WORKER_FLAGS

    for name, threads in workers:
        stack._spawn(
            name,
            [
                PY,
                "-m",
                "celery",
                "-A",
                "scripts.bench.raw:app",
                "-b",
                broker,
                "worker",
                "-P",
                "threads",
                "-c",
                str(threads),
                *WORKER_FLAGS,
                "-Q",
                QUEUE,
                "-n",
                f"{name}@%h",
            ],
        )


def _run(client: Celery, counter: redis.Redis, n: int, timeout: float) -> RawResult:
    counter.delete(COUNTER)
    start = time.perf_counter()
    with client.producer_or_acquire() as producer:
        for _ in range(n):
            client.send_task(TASK, queue=QUEUE, producer=producer)
    deadline = time.monotonic() + timeout
    while int(counter.get(COUNTER) or 0) < n:
        if time.monotonic() > deadline:
            done = int(counter.get(COUNTER) or 0)
            raise TimeoutError(f"raw floor: {done}/{n} done after {timeout}s")
        time.sleep(0.005)
    return RawResult(n, time.perf_counter() - start)


def measure(
    *, run_dir: Path, broker: str, workers: list[tuple[str, int]], n: int, timeout: float
) -> RawResult:
    """Start raw workers, warm them up, time `n` no-op tasks, stop the workers."""
    stack = Stack(run_dir=run_dir, env={})
    counter = redis.Redis.from_url(broker)
    client = make_app(broker)
    try:
        start_workers(stack, broker, workers)
        _run(client, counter, min(200, n), timeout)  # workers up, connections warm
        return _run(client, counter, n, timeout)
    finally:
        stack.stop_all()
        counter.delete(COUNTER)
        counter.close()
