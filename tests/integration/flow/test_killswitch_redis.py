"""What only the Redis kill switch can show: an unreachable store and the raw key."""

from __future__ import annotations

import pytest
import redis

from tasks.errors import Paused
from tasks.flow import keys
from tasks.flow.killswitch import RedisKillSwitch


def test_an_unreachable_redis_pauses_instead_of_failing_open() -> None:
    client = redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2)
    with pytest.raises(Paused, match="unavailable"):
        RedisKillSwitch(client).check()


def test_the_switch_is_the_one_shared_key(redis_client: redis.Redis) -> None:
    RedisKillSwitch(redis_client).set(True, reason="incident")
    assert keys.KILLSWITCH == "dq:killswitch"
    assert redis_client.exists(keys.KILLSWITCH) == 1
    RedisKillSwitch(redis_client).set(False)
    assert redis_client.exists(keys.KILLSWITCH) == 0
