"""What only the Redis semaphore can show: crashed processes, round trips, Redis-side state."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
import redis

from tasks.errors import SlotTimeout
from tasks.flow import keys
from tasks.flow.semaphore import RedisSlotLimiter
from tests.support.paths import REPO

KEY = "gpt-test"


def _limiter(client: redis.Redis, **overrides: float) -> RedisSlotLimiter:
    opts = {"lease_ttl_s": 2.0, "heartbeat_s": 0.5, "acquire_timeout_s": 5.0, **overrides}
    return RedisSlotLimiter(client, **opts)


def test_expired_lease_of_a_dead_holder_is_reclaimed(
    redis_client: redis.Redis, unit_redis_url: str
) -> None:
    ttl = 1.0
    holder = (
        "import sys, time, redis\n"
        "from tasks.flow.semaphore import RedisSlotLimiter\n"
        f"lim = RedisSlotLimiter(redis.Redis.from_url({unit_redis_url!r}), lease_ttl_s={ttl},"
        " heartbeat_s=0.2, acquire_timeout_s=5)\n"
        f"with lim.slot(key={KEY!r}, cap=1):\n"
        "    print('held', flush=True)\n"
        "    time.sleep(60)\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", holder], cwd=REPO, stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "held"
        limiter = _limiter(redis_client, acquire_timeout_s=0.2)
        time.sleep(ttl * 1.2)  # its heartbeat keeps the lease alive past the TTL
        assert limiter.in_use(KEY) == 1
        with pytest.raises(SlotTimeout):
            limiter.acquire(key=KEY, cap=1)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        killed = time.monotonic()
        waiting = _limiter(redis_client, acquire_timeout_s=ttl * 3)
        with waiting.slot(key=KEY, cap=1):
            reclaimed_after = time.monotonic() - killed
        assert reclaimed_after <= ttl + 0.3
        assert waiting.expired_total(KEY) == 1
    finally:
        proc.kill()
        proc.wait()


def test_waiting_does_not_busy_spin_redis(redis_client: redis.Redis) -> None:
    limiter = _limiter(redis_client, acquire_timeout_s=1.0)

    def client_calls() -> int:
        # scripts' inner commands are counted too; only round trips from clients matter here
        stats = redis_client.info("commandstats")
        return sum(
            int(v["calls"])
            for k, v in stats.items()
            if k
            in {"cmdstat_evalsha", "cmdstat_eval", "cmdstat_blpop", "cmdstat_get", "cmdstat_zcount"}
        )

    with limiter.slot(key=KEY, cap=1):
        before = client_calls()
        started = time.monotonic()
        with pytest.raises(SlotTimeout):
            limiter.acquire(key=KEY, cap=1)
        waited = time.monotonic() - started
        calls = client_calls() - before
    assert waited >= 1.0
    assert calls < 50, f"{calls} Redis round trips in a 1 s wait"


def test_a_lease_lost_to_expiry_is_reported_not_resurrected(
    redis_client: redis.Redis,
) -> None:
    limiter = _limiter(redis_client, lease_ttl_s=0.5, heartbeat_s=0.1)
    with limiter.hold(key=KEY, cap=1) as lease:
        # what a long stall looks like from Redis: the lease ran out before the next beat
        redis_client.zadd(keys.semaphore(KEY).leases, {lease.token: 0}, xx=True)
        assert lease.lost.wait(1.0)
        time.sleep(0.3)
        assert limiter.in_use(KEY) == 0
    assert limiter.expired_total(KEY) == 1


def test_a_dead_waiter_does_not_block_the_line(redis_client: redis.Redis) -> None:
    limiter = _limiter(redis_client, acquire_timeout_s=3.0, waiter_ttl_s=0.5)
    sem = keys.semaphore(KEY)
    redis_client.zadd(sem.waiters, {"ghost": 0})
    redis_client.zadd(sem.waiters_ttl, {"ghost": 1})  # expired long ago
    started = time.monotonic()
    with limiter.slot(key=KEY, cap=1):
        assert time.monotonic() - started < 0.2


def test_every_semaphore_key_shares_one_hash_tag(redis_client: redis.Redis) -> None:
    limiter = _limiter(redis_client)
    with limiter.hold(key=KEY, cap=1):
        stored = {k.decode() for k in redis_client.scan_iter("dq:sem:*")}
    assert stored
    assert all(k.startswith(f"dq:sem:{{{KEY}}}:") for k in stored)
    assert stored <= set(keys.semaphore(KEY).script_keys)
