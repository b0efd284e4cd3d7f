"""The per-model circuit breaker: shared on Redis, or in memory for tests."""

from tasks.flow.breaker.core import Breaker, BreakerBackend
from tasks.flow.breaker.memory_backend import MemoryBreakerBackend, MemoryCircuitBreaker
from tasks.flow.breaker.redis_backend import RedisBreakerBackend, RedisCircuitBreaker

__all__ = [
    "Breaker",
    "BreakerBackend",
    "MemoryBreakerBackend",
    "MemoryCircuitBreaker",
    "RedisBreakerBackend",
    "RedisCircuitBreaker",
]
