"""Throughput probes of the recovery tests: completions over time, and when they came back."""

from __future__ import annotations

import datetime as dt
import os
import signal
import threading
import time
import uuid
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from scripts.devstack.procs import pid_alive, read_pid
from scripts.devstack.redis import RedisServer
from storage.models import BudgetReservation, Job
from tests.support.stacks import LiveStack
from tests.support.tenants import Tenant


@dataclass
class Throughput:
    """Samples a tenant's succeeded count every `every_s` (monotonic time, count)."""

    live: LiveStack
    tenant: Tenant
    every_s: float = 0.25
    samples: list[tuple[float, int]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="throughput")

    def _count(self) -> int:
        with self.live.session() as session:
            return int(
                session.scalar(
                    select(func.count()).where(
                        Job.tenant_id == uuid.UUID(self.tenant.id), Job.status == "succeeded"
                    )
                )
                or 0
            )

    def _run(self) -> None:
        while not self._stop.wait(self.every_s):
            try:
                self.samples.append((time.monotonic(), self._count()))
            except OperationalError:  # Postgres busy for a moment: a missed sample is fine
                continue

    def __enter__(self) -> Throughput:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _at(self, t: float) -> int:
        """The count at time `t` (the last sample at or before it)."""
        before = [n for at, n in self.samples if at <= t]
        return before[-1] if before else 0

    def rate(self, start: float, end: float) -> float:
        """Completions per second between two times."""
        return (self._at(end) - self._at(start)) / (end - start)

    def back_after(self, fault_at: float, *, baseline: float, window_s: float = 3.0) -> float:
        """Seconds after `fault_at` until a `window_s` window ran at 70 % of `baseline`.

        The window ending first at or above that rate counts from its end: the throughput
        was back by then. Infinity if it never came back while sampled.
        """
        ends = [at for at, _ in self.samples if at >= fault_at + window_s]
        for end in ends:
            if self.rate(end - window_s, end) >= 0.7 * baseline:
                return end - fault_at
        return float("inf")


def open_holds(live: LiveStack, job_ids: set[str], *, before: dt.datetime) -> int:
    """Budget reservations of these jobs made before `before` and still open.

    A requeued job's next attempt reserves anew: only the dead attempt's holds count.
    """
    if not job_ids:
        return 0
    with live.session() as session:
        return int(
            session.scalar(
                select(func.count()).where(
                    BudgetReservation.job_id.in_([uuid.UUID(j) for j in job_ids]),
                    BudgetReservation.settled_at.is_(None),
                    BudgetReservation.created_at < before,
                )
            )
            or 0
        )


def kill_redis(server: RedisServer, *, timeout: float = 10.0) -> None:
    """SIGKILL the Redis server (no shutdown, no save) and wait until it is gone."""
    pid = read_pid(server.pidfile)
    assert pid is not None, "Redis has no pid file"
    assert pid_alive(pid), "Redis is not running"
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + timeout
    while pid_alive(pid):
        assert time.monotonic() < deadline, "Redis survived SIGKILL"
        time.sleep(0.02)
