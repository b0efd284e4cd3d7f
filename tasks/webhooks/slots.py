"""At most `tenant_concurrency` of one tenant's deliveries in flight, across every consumer.

A slot is a lease of the flow-control semaphore (tasks/flow/semaphore) on the key
`webhooks:<tenant id>`. Taking one never waits: a delivery that finds its tenant's slots
busy is postponed and retried a little later by its task, so a tenant whose receiver
hangs ties up at most that many consumer threads, and never anybody else's.
"""

from __future__ import annotations

import random
import threading
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

import redis
import structlog

from schemas.config import Settings
from tasks.errors import SlotTimeout
from tasks.flow import keys
from tasks.flow.connection import redis_client, replicas_to_ack
from tasks.flow.semaphore import LeaseLimiter, RedisSlotBackend

log = structlog.get_logger(__name__)


class TenantSlots:
    """Non-blocking per-tenant slots over a lease limiter."""

    def __init__(self, limiter: LeaseLimiter, *, cap: int) -> None:
        self._limiter, self._cap = limiter, cap

    @contextmanager
    def hold(self, tenant_id: uuid.UUID) -> Iterator[bool]:
        """Yield True while one of the tenant's slots is held, False at once when none is free."""
        with ExitStack() as stack:
            try:
                stack.enter_context(
                    self._limiter.hold(key=keys.webhook_slots(str(tenant_id)), cap=self._cap)
                )
            except SlotTimeout:
                got = False
            except redis.RedisError as exc:
                # Fail open: a delivery is owed, and without Redis nothing else limits it either.
                log.warning("webhook_slot_unavailable", error=str(exc)[:200])
                got = True
            else:
                got = True
            yield got


def busy_wait_s(base_s: float) -> float:
    """How long a delivery without a slot waits: `base_s`, jittered so waiters spread out."""
    return base_s * random.uniform(0.5, 1.5)


_lock = threading.Lock()
_slots: TenantSlots | None = None


def process_slots(settings: Settings) -> TenantSlots:
    """This process's slots on Redis, created on first use."""
    global _slots  # noqa: PLW0603 - one Redis client and limiter per process
    with _lock:
        if _slots is None:
            client = redis_client(settings.redis_url, socket_timeout=5, socket_connect_timeout=3)
            sem = settings.app.semaphore
            limiter = LeaseLimiter(
                RedisSlotBackend(client, replicas=replicas_to_ack(settings.redis_url)),
                lease_ttl_s=sem.lease_ttl_s,
                heartbeat_s=sem.heartbeat_s,
                acquire_timeout_s=0.0,  # one try: a busy tenant waits in the broker, not here
            )
            _slots = TenantSlots(limiter, cap=settings.app.webhooks.tenant_concurrency)
        return _slots
