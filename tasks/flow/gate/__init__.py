"""The call gate: breaker, token bucket and slot of one provider call, one round trip each way.

On Redis (`RedisCallGate`), or in memory for tests (`MemoryCallGate`); both are
`tasks.engine.ports.CallGate`.
"""

from __future__ import annotations

from typing import Unpack

import redis

from schemas.config import BreakerConfig
from tasks.flow.breaker import Breaker, MemoryBreakerBackend, RedisBreakerBackend
from tasks.flow.bucket import MemoryBucketBackend, RedisBucketBackend, TokenBucket
from tasks.flow.gate.core import Entry, Exit, FlowGate, FlowPassage, GateBackend, Stage
from tasks.flow.gate.memory_backend import MemoryGateBackend
from tasks.flow.gate.redis_backend import RedisGateBackend
from tasks.flow.semaphore import LeaseLimiter, MemorySlotBackend, RedisSlotBackend
from tasks.flow.semaphore.core import LeaseTimings

__all__ = [
    "Entry",
    "Exit",
    "FlowGate",
    "FlowPassage",
    "GateBackend",
    "MemoryCallGate",
    "MemoryGateBackend",
    "RedisCallGate",
    "RedisGateBackend",
    "Stage",
]


class RedisCallGate(FlowGate):
    """CallGate on one Redis client, sharing its state with the separate Redis limiters."""

    def __init__(
        self,
        client: redis.Redis,
        breaker_config: BreakerConfig,
        *,
        probe_ttl_s: float = 60.0,
        bucket_timeout_s: float = 120.0,
        **timings: Unpack[LeaseTimings],
    ) -> None:
        super().__init__(
            RedisGateBackend(client),
            limiter=LeaseLimiter(RedisSlotBackend(client), **timings),
            bucket=TokenBucket(RedisBucketBackend(client), timeout_s=bucket_timeout_s),
            breaker=Breaker(RedisBreakerBackend(client), breaker_config, probe_ttl_s=probe_ttl_s),
        )


class MemoryCallGate(FlowGate):
    """CallGate in memory, for tests: pass the backends to share them with separate clients."""

    def __init__(
        self,
        breaker_config: BreakerConfig,
        *,
        slots: MemorySlotBackend | None = None,
        bucket: MemoryBucketBackend | None = None,
        breaker: MemoryBreakerBackend | None = None,
        probe_ttl_s: float = 60.0,
        bucket_timeout_s: float = 120.0,
        **timings: Unpack[LeaseTimings],
    ) -> None:
        slots = slots or MemorySlotBackend()
        bucket = bucket or MemoryBucketBackend()
        breaker = breaker or MemoryBreakerBackend()
        super().__init__(
            MemoryGateBackend(slots=slots, bucket=bucket, breaker=breaker),
            limiter=LeaseLimiter(slots, **timings),
            bucket=TokenBucket(bucket, timeout_s=bucket_timeout_s),
            breaker=Breaker(breaker, breaker_config, probe_ttl_s=probe_ttl_s),
        )
