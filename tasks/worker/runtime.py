"""Per-process wiring of the engine's ports: SDK clients, Redis, Postgres (built once)."""

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
from tasks.engine import pipeline as engine_mod
from tasks.engine.llm import Clients, extract
from tasks.flow.breaker import RedisCircuitBreaker
from tasks.flow.bucket import RedisTokenBucket
from tasks.flow.budget import PostgresBudget
from tasks.flow.killswitch import RedisKillSwitch
from tasks.flow.semaphore import RedisSlotLimiter


@dataclass
class Runtime:
    """Long-lived collaborators shared by every task thread in a worker process."""

    settings: Settings
    worker_id: str = field(default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}")

    def __post_init__(self) -> None:
        app = self.settings.app
        self.redis = redis.Redis.from_url(
            self.settings.redis_url,
            socket_timeout=10,
            socket_connect_timeout=5,
            health_check_interval=30,
            max_connections=512,
        )
        self.clients = Clients(self.settings)
        self.limiter = RedisSlotLimiter(
            self.redis,
            lease_ttl_s=app.semaphore.lease_ttl_s,
            heartbeat_s=app.semaphore.heartbeat_s,
            acquire_timeout_s=app.celery.soft_time_limit_s / 2,
        )
        self.rate = RedisTokenBucket(self.redis)
        self.breaker = RedisCircuitBreaker(self.redis, app.breaker)
        self.killswitch = RedisKillSwitch(self.redis)
        self._extract = functools.partial(extract, clients=self.clients)

    def engine(
        self, *, tenant_id: uuid.UUID, job_id: uuid.UUID, sink: Callable[[engine_mod.Billed], None]
    ) -> engine_mod.Engine:
        """An engine for one job, bound to its tenant's budget and the job's ledger sink."""
        return engine_mod.Engine(
            config=self.settings.app,
            extract=self._extract,
            limiter=self.limiter,
            rate=self.rate,
            breaker=self.breaker,
            budget=PostgresBudget(tenant_id=tenant_id, job_id=job_id),
            killswitch=self.killswitch,
            sink=sink,
        )

    def close(self) -> None:
        """Release pools (worker shutdown)."""
        self.clients.close()
        self.redis.close()


_lock = threading.Lock()
_runtime: Runtime | None = None


def get_runtime() -> Runtime:
    """The process's Runtime, created on first use (after the worker forks)."""
    global _runtime  # noqa: PLW0603 - one runtime per process is the point
    with _lock:
        if _runtime is None:
            _runtime = Runtime(get_settings())
        return _runtime
