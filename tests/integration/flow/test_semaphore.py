"""The Redis semaphore against a real redis-server: cap, crash recovery, fairness, heartbeat."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable

import pytest
import redis

from tasks.errors import SlotTimeout
from tasks.flow.semaphore import RedisSlotLimiter
from tests.conftest import REPO

KEY = "gpt-test"


def _limiter(client: redis.Redis, **overrides: float) -> RedisSlotLimiter:
    opts = {"lease_ttl_s": 2.0, "heartbeat_s": 0.5, "acquire_timeout_s": 5.0, **overrides}
    return RedisSlotLimiter(client, **opts)


def _wait_until(cond: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.01)


def _waiters(client: redis.Redis) -> int:
    return int(client.zcard(f"dq:sem:{{{KEY}}}:waiters"))


def test_cap_is_never_exceeded_under_contention(redis_client: redis.Redis) -> None:
    limiter = _limiter(redis_client)
    lock = threading.Lock()
    inside, peak, done = 0, 0, 0
    over_cap_in_redis: list[int] = []

    def work() -> None:
        nonlocal inside, peak, done
        with limiter.slot(key=KEY, cap=5):
            with lock:
                inside += 1
                peak = max(peak, inside)
            if (n := limiter.in_use(KEY)) > 5:
                over_cap_in_redis.append(n)
            time.sleep(0.02)
            with lock:
                inside -= 1
        with lock:
            done += 1

    threads = [threading.Thread(target=work) for _ in range(40)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert done == 40
    assert peak == 5
    assert over_cap_in_redis == []
    assert limiter.in_use(KEY) == 0


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


def test_waiters_are_served_first_come_first_served(redis_client: redis.Redis) -> None:
    limiter = _limiter(redis_client)
    order: list[int] = []

    def wait_in_line(i: int) -> None:
        with limiter.slot(key=KEY, cap=1):
            order.append(i)
            time.sleep(0.01)

    with limiter.slot(key=KEY, cap=1):
        threads = []
        for i in range(8):
            t = threading.Thread(target=wait_in_line, args=(i,))
            t.start()
            threads.append(t)
            _wait_until(lambda: _waiters(redis_client) == len(threads))  # tickets in order
    for t in threads:
        t.join()
    assert order == list(range(8))


def test_a_newcomer_does_not_jump_the_queue(redis_client: redis.Redis) -> None:
    limiter = _limiter(redis_client)
    first = limiter.acquire(key=KEY, cap=1)
    order: list[str] = []

    def queued() -> None:
        with limiter.slot(key=KEY, cap=1):
            order.append("queued")

    t = threading.Thread(target=queued)
    t.start()
    _wait_until(lambda: _waiters(redis_client) == 1)
    limiter.release(first, cap=1)
    with limiter.slot(key=KEY, cap=1):  # arrives as the slot frees up: must line up behind
        order.append("newcomer")
    t.join()
    assert order == ["queued", "newcomer"]


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


def test_a_release_wakes_a_waiter_without_waiting_for_the_poll(
    redis_client: redis.Redis,
) -> None:
    limiter = _limiter(redis_client, poll_s=1.0)
    first = limiter.acquire(key=KEY, cap=1)
    got: list[float] = []

    def waiter() -> None:
        with limiter.slot(key=KEY, cap=1):
            got.append(time.monotonic())

    t = threading.Thread(target=waiter)
    t.start()
    _wait_until(lambda: _waiters(redis_client) == 1)
    time.sleep(0.05)  # let it block in BLPOP
    released = time.monotonic()
    limiter.release(first, cap=1)
    t.join()
    assert got[0] - released < 0.2


def test_heartbeat_keeps_a_long_call_alive_past_the_ttl(redis_client: redis.Redis) -> None:
    limiter = _limiter(redis_client, lease_ttl_s=0.5, heartbeat_s=0.15)
    other = _limiter(redis_client, acquire_timeout_s=0.1)
    with limiter.hold(key=KEY, cap=1) as lease:
        time.sleep(1.2)
        assert limiter.in_use(KEY) == 1
        with pytest.raises(SlotTimeout):
            other.acquire(key=KEY, cap=1)
        assert not lease.lost.is_set()
    assert limiter.expired_total(KEY) == 0
    assert limiter.in_use(KEY) == 0


def test_a_lease_lost_to_expiry_is_reported_not_resurrected(
    redis_client: redis.Redis,
) -> None:
    limiter = _limiter(redis_client, lease_ttl_s=0.5, heartbeat_s=0.1)
    with limiter.hold(key=KEY, cap=1) as lease:
        # what a long stall looks like from Redis: the lease ran out before the next beat
        redis_client.zadd(f"dq:sem:{{{KEY}}}:leases", {lease.token: 0}, xx=True)
        assert lease.lost.wait(1.0)
        time.sleep(0.3)
        assert limiter.in_use(KEY) == 0
    assert limiter.expired_total(KEY) == 1


def test_acquire_times_out_with_slot_timeout(redis_client: redis.Redis) -> None:
    limiter = _limiter(redis_client, acquire_timeout_s=0.3)
    with limiter.slot(key=KEY, cap=1):
        started = time.monotonic()
        with pytest.raises(SlotTimeout):
            limiter.acquire(key=KEY, cap=1)
        assert 0.3 <= time.monotonic() - started < 0.8
        assert _waiters(redis_client) == 0  # it left the line instead of blocking others


def test_a_dead_waiter_does_not_block_the_line(redis_client: redis.Redis) -> None:
    limiter = _limiter(redis_client, acquire_timeout_s=3.0, waiter_ttl_s=0.5)
    redis_client.zadd(f"dq:sem:{{{KEY}}}:waiters", {"ghost": 0})
    redis_client.zadd(f"dq:sem:{{{KEY}}}:waiters:ttl", {"ghost": 1})  # expired long ago
    started = time.monotonic()
    with limiter.slot(key=KEY, cap=1):
        assert time.monotonic() - started < 0.2


def test_a_lower_cap_applies_to_the_next_acquire(redis_client: redis.Redis) -> None:
    limiter = _limiter(redis_client, acquire_timeout_s=0.2)
    held = [limiter.acquire(key=KEY, cap=3) for _ in range(2)]
    with pytest.raises(SlotTimeout):
        limiter.acquire(key=KEY, cap=2)
    limiter.release(held.pop(), cap=2)
    with limiter.slot(key=KEY, cap=2):
        assert limiter.in_use(KEY) == 2
    limiter.release(held.pop(), cap=2)


def test_fences_grow_with_every_grant(redis_client: redis.Redis) -> None:
    limiter = _limiter(redis_client)
    fences = []
    for _ in range(3):
        with limiter.hold(key=KEY, cap=2) as lease:
            fences.append(lease.fence)
    assert fences == sorted(set(fences))
