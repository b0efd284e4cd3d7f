"""The semaphore's contract, run on the Redis backend and on the in-memory one alike."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest

from tasks.errors import SlotTimeout
from tasks.flow.semaphore import (
    LeaseLimiter,
    MemorySlotBackend,
    MemorySlotLimiter,
    RedisSlotLimiter,
)

KEY = "gpt-test"

MakeLimiter = Callable[..., LeaseLimiter]


@pytest.fixture(params=["redis", "memory"])
def make_limiter(request: pytest.FixtureRequest) -> MakeLimiter:
    """Limiters that share one backend (like workers sharing one Redis), per backend kind."""

    def opts(overrides: dict[str, float]) -> dict[str, float]:
        return {"lease_ttl_s": 2.0, "heartbeat_s": 0.5, "acquire_timeout_s": 5.0, **overrides}

    if request.param == "redis":
        client = request.getfixturevalue("redis_client")
        return lambda **overrides: RedisSlotLimiter(client, **opts(overrides))
    backend = MemorySlotBackend()
    return lambda **overrides: MemorySlotLimiter(backend=backend, **opts(overrides))


def _wait_until(cond: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.01)


def test_cap_is_never_exceeded_under_contention(make_limiter: MakeLimiter) -> None:
    limiter = make_limiter()
    lock = threading.Lock()
    inside, peak, done = 0, 0, 0
    over_cap_in_backend: list[int] = []

    def work() -> None:
        nonlocal inside, peak, done
        with limiter.slot(key=KEY, cap=5):
            with lock:
                inside += 1
                peak = max(peak, inside)
            if (n := limiter.in_use(KEY)) > 5:
                over_cap_in_backend.append(n)
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
    assert over_cap_in_backend == []
    assert limiter.in_use(KEY) == 0


def test_a_lease_nobody_renews_is_reclaimed_after_its_ttl(make_limiter: MakeLimiter) -> None:
    limiter = make_limiter(lease_ttl_s=0.3, heartbeat_s=0.1, acquire_timeout_s=0.1)
    limiter.acquire(key=KEY, cap=1)  # its holder "dies": no heartbeat, no release
    with pytest.raises(SlotTimeout):
        limiter.acquire(key=KEY, cap=1)
    time.sleep(0.35)
    assert limiter.in_use(KEY) == 0
    with limiter.slot(key=KEY, cap=1):
        assert limiter.in_use(KEY) == 1
    assert limiter.expired_total(KEY) == 1


def test_waiters_are_served_first_come_first_served(make_limiter: MakeLimiter) -> None:
    limiter = make_limiter()
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
            _wait_until(lambda: limiter.waiting(KEY) == len(threads))  # tickets in order
    for t in threads:
        t.join()
    assert order == list(range(8))


def test_a_newcomer_does_not_jump_the_queue(make_limiter: MakeLimiter) -> None:
    limiter = make_limiter()
    first = limiter.acquire(key=KEY, cap=1)
    order: list[str] = []

    def queued() -> None:
        with limiter.slot(key=KEY, cap=1):
            order.append("queued")

    t = threading.Thread(target=queued)
    t.start()
    _wait_until(lambda: limiter.waiting(KEY) == 1)
    limiter.release(first, cap=1)
    with limiter.slot(key=KEY, cap=1):  # arrives as the slot frees up: must line up behind
        order.append("newcomer")
    t.join()
    assert order == ["queued", "newcomer"]


def test_a_release_wakes_a_waiter_without_waiting_for_the_poll(
    make_limiter: MakeLimiter,
) -> None:
    limiter = make_limiter(poll_s=1.0)
    first = limiter.acquire(key=KEY, cap=1)
    got: list[float] = []

    def waiter() -> None:
        with limiter.slot(key=KEY, cap=1):
            got.append(time.monotonic())

    t = threading.Thread(target=waiter)
    t.start()
    _wait_until(lambda: limiter.waiting(KEY) == 1)
    time.sleep(0.05)  # let it block waiting for its wake-up
    released = time.monotonic()
    limiter.release(first, cap=1)
    t.join()
    assert got[0] - released < 0.2


def test_heartbeat_keeps_a_long_call_alive_past_the_ttl(make_limiter: MakeLimiter) -> None:
    limiter = make_limiter(lease_ttl_s=0.5, heartbeat_s=0.15)
    other = make_limiter(acquire_timeout_s=0.1)
    with limiter.hold(key=KEY, cap=1) as lease:
        time.sleep(1.2)
        assert limiter.in_use(KEY) == 1
        with pytest.raises(SlotTimeout):
            other.acquire(key=KEY, cap=1)
        assert not lease.lost.is_set()
    assert limiter.expired_total(KEY) == 0
    assert limiter.in_use(KEY) == 0


def test_acquire_times_out_with_slot_timeout(make_limiter: MakeLimiter) -> None:
    limiter = make_limiter(acquire_timeout_s=0.3)
    with limiter.slot(key=KEY, cap=1):
        started = time.monotonic()
        with pytest.raises(SlotTimeout):
            limiter.acquire(key=KEY, cap=1)
        assert 0.3 <= time.monotonic() - started < 0.8
        assert limiter.waiting(KEY) == 0  # it left the line instead of blocking others


def test_a_lower_cap_applies_to_the_next_acquire(make_limiter: MakeLimiter) -> None:
    limiter = make_limiter(acquire_timeout_s=0.2)
    held = [limiter.acquire(key=KEY, cap=3) for _ in range(2)]
    with pytest.raises(SlotTimeout):
        limiter.acquire(key=KEY, cap=2)
    limiter.release(held.pop(), cap=2)
    with limiter.slot(key=KEY, cap=2):
        assert limiter.in_use(KEY) == 2
    limiter.release(held.pop(), cap=2)


def test_fences_grow_with_every_grant(make_limiter: MakeLimiter) -> None:
    limiter = make_limiter()
    fences = []
    for _ in range(3):
        with limiter.hold(key=KEY, cap=2) as lease:
            fences.append(lease.fence)
    assert fences == sorted(set(fences))


def test_a_cap_below_one_is_refused(make_limiter: MakeLimiter) -> None:
    with pytest.raises(ValueError, match="cap must be >= 1"):
        make_limiter().acquire(key=KEY, cap=0)
