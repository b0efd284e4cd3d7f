"""The global kill switch for new provider calls: on Redis, or in memory for tests."""

from tasks.flow.killswitch.core import CachedKillSwitch, SwitchBackend
from tasks.flow.killswitch.memory_backend import MemoryKillSwitch, MemorySwitchBackend
from tasks.flow.killswitch.redis_backend import RedisKillSwitch, RedisSwitchBackend

__all__ = [
    "CachedKillSwitch",
    "MemoryKillSwitch",
    "MemorySwitchBackend",
    "RedisKillSwitch",
    "RedisSwitchBackend",
    "SwitchBackend",
]
