"""The tokens-per-minute bucket per model: on Redis, or in memory for tests."""

from tasks.flow.bucket.core import BucketBackend, TokenBucket
from tasks.flow.bucket.memory_backend import MemoryBucketBackend, MemoryTokenBucket
from tasks.flow.bucket.redis_backend import RedisBucketBackend, RedisTokenBucket

__all__ = [
    "BucketBackend",
    "MemoryBucketBackend",
    "MemoryTokenBucket",
    "RedisBucketBackend",
    "RedisTokenBucket",
    "TokenBucket",
]
