"""The Redis kill switch, against a real Redis."""

from __future__ import annotations

import time

import pytest
import redis

from tasks.errors import Paused
from tasks.flow.killswitch import RedisKillSwitch


def _raises_within(switch: RedisKillSwitch, seconds: float) -> float | None:
    start = time.monotonic()
    while time.monotonic() - start < seconds:
        try:
            switch.check()
        except Paused:
            return time.monotonic() - start
        time.sleep(0.01)
    return None


def test_check_raises_within_a_second_of_set(redis_client: redis.Redis) -> None:
    worker = RedisKillSwitch(redis_client)
    worker.check()  # caches "off"
    RedisKillSwitch(redis_client).set(True, reason="provider incident")
    assert _raises_within(worker, 1.0) is not None
    with pytest.raises(Paused, match="provider incident"):
        worker.check()
    assert worker.status()["on"] is True
    assert worker.status()["reason"] == "provider incident"


def test_check_resumes_after_unset(redis_client: redis.Redis) -> None:
    operator = RedisKillSwitch(redis_client)
    operator.set(True, reason="maintenance")
    worker = RedisKillSwitch(redis_client)
    with pytest.raises(Paused):
        worker.check()
    operator.set(False)
    time.sleep(0.6)
    worker.check()
    assert worker.status() == {"on": False, "reason": "", "since": None}


def test_reads_are_cached_between_checks(redis_client: redis.Redis) -> None:
    worker = RedisKillSwitch(redis_client, cache_s=60)
    worker.check()
    redis_client.set("dq:killswitch", "set by hand")
    worker.check()  # still the cached "off"
    worker.set(True, reason="x")
    with pytest.raises(Paused):
        worker.check()


def test_an_unreachable_redis_pauses_instead_of_failing_open() -> None:
    client = redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2)
    with pytest.raises(Paused, match="unavailable"):
        RedisKillSwitch(client).check()
