"""Per-process wiring of the worker core: the job store, the flow ports, the SDK clients."""

from __future__ import annotations

import functools
import os
import socket
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

import redis

from schemas.config import Settings, get_settings
from tasks.engine.llm import Clients, extract
from tasks.engine.models import CallLedger, Engine, Extract
from tasks.engine.ports import (
    Budget,
    CallGate,
    CircuitBreaker,
    KillSwitch,
    RateLimiter,
    SlotLimiter,
)
from tasks.engine.tape import FreePorts
from tasks.flow.breaker import RedisCircuitBreaker
from tasks.flow.bucket import RedisTokenBucket
from tasks.flow.budget import PostgresBudget
from tasks.flow.connection import redis_client, replicas_to_ack
from tasks.flow.gate import FlowGate, RedisGateBackend
from tasks.flow.killswitch import RedisKillSwitch
from tasks.flow.semaphore import LeaseLimiter, RedisSlotBackend
from tasks.flow.semaphore.core import LeaseTimings
from tasks.worker.parking import LaneStore, PostgresLaneStore
from tasks.worker.ports import JobStore
from tasks.worker.store import PostgresJobStore


def _default_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


@dataclass
class Runtime:
    """Long-lived collaborators shared by every task thread in a worker process."""

    settings: Settings
    store: JobStore
    extract: Extract
    limiter: SlotLimiter
    rate: RateLimiter
    breaker: CircuitBreaker
    killswitch: KillSwitch
    budget_for: Callable[[uuid.UUID, uuid.UUID], Budget]  # (tenant id, job id) -> budget
    # breaker, bucket and slot in one round trip each way; None: the three ports above
    gate: CallGate | None = None
    lanes: LaneStore = field(default_factory=PostgresLaneStore)
    worker_id: str = field(default_factory=_default_worker_id)
    closers: list[Callable[[], None]] = field(default_factory=list)

    def engine(
        self, *, tenant_id: uuid.UUID, job_id: uuid.UUID, ledger: CallLedger, parked: bool = False
    ) -> Engine:
        """An engine for one job, bound to its tenant's budget and the attempt's ledger.

        `parked`: the job runs over its batch-lane tape, whose requests take no realtime
        slot, bucket room or hold (tasks/engine/tape.py).
        """
        if parked:
            free = FreePorts()
            return Engine(
                config=self.settings.app,
                extract=self.extract,
                limiter=free,
                rate=free,
                breaker=free,
                budget=free,
                killswitch=self.killswitch,
                ledger=ledger,
            )
        return Engine(
            config=self.settings.app,
            extract=self.extract,
            limiter=self.limiter,
            rate=self.rate,
            breaker=self.breaker,
            budget=self.budget_for(tenant_id, job_id),
            killswitch=self.killswitch,
            ledger=ledger,
            gate=self.gate,
        )

    def close(self) -> None:
        """Release pools (worker shutdown)."""
        for close in self.closers:
            close()


def build_runtime(settings: Settings, *, client: redis.Redis | None = None) -> Runtime:
    """The production runtime: Postgres store and budget, Redis flow control, real SDKs.

    `client`: the Redis client for flow control (default: one on settings.redis_url).
    """
    app = settings.app
    client = client or redis_client(
        settings.redis_url,
        socket_timeout=10,
        socket_connect_timeout=5,
        health_check_interval=30,
        max_connections=512,
    )
    clients = Clients(settings)
    timings: LeaseTimings = {
        "lease_ttl_s": app.semaphore.lease_ttl_s,
        "heartbeat_s": app.semaphore.heartbeat_s,
        "acquire_timeout_s": app.celery.soft_time_limit_s / 2,
    }
    replicas = replicas_to_ack(settings.redis_url)
    limiter = LeaseLimiter(RedisSlotBackend(client, replicas=replicas), **timings)
    rate = RedisTokenBucket(client)
    breaker = RedisCircuitBreaker(client, app.breaker)
    return Runtime(
        settings=settings,
        store=PostgresJobStore(),
        extract=functools.partial(extract, clients=clients),
        limiter=limiter,
        rate=rate,
        breaker=breaker,
        # the same three objects: one probe record per thread, one heartbeat per model
        gate=FlowGate(
            RedisGateBackend(client, replicas=replicas),
            limiter=limiter,
            bucket=rate,
            breaker=breaker,
        ),
        killswitch=RedisKillSwitch(client),
        budget_for=lambda tenant_id, job_id: PostgresBudget(tenant_id=tenant_id, job_id=job_id),
        closers=[clients.close, client.close],
    )


_lock = threading.Lock()
_runtime: Runtime | None = None


def get_runtime() -> Runtime:
    """The process's Runtime, created on first use (after the worker forks)."""
    global _runtime  # noqa: PLW0603 - one runtime per process is the point
    with _lock:
        if _runtime is None:
            _runtime = build_runtime(get_settings())
        return _runtime
