"""The global concurrency semaphore: crash-safe leases on Redis, or in memory for tests."""

from tasks.flow.semaphore.core import Lease, LeaseLimiter, SlotBackend
from tasks.flow.semaphore.memory_backend import MemorySlotBackend, MemorySlotLimiter
from tasks.flow.semaphore.redis_backend import RedisSlotBackend, RedisSlotLimiter

__all__ = [
    "Lease",
    "LeaseLimiter",
    "MemorySlotBackend",
    "MemorySlotLimiter",
    "RedisSlotBackend",
    "RedisSlotLimiter",
    "SlotBackend",
]
