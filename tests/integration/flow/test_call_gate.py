"""The call gate's contract, on Redis and in memory alike: breaker, bucket and slot at once."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from schemas.config import BreakerConfig
from scripts.devstack.ports import free_port
from tasks.errors import CircuitOpen
from tasks.flow import keys
from tasks.flow.breaker import Breaker, MemoryBreakerBackend, RedisBreakerBackend
from tasks.flow.bucket import MemoryBucketBackend, RedisBucketBackend, TokenBucket
from tasks.flow.gate import FlowGate, FlowPassage, MemoryGateBackend, RedisGateBackend
from tasks.flow.semaphore import LeaseLimiter, MemorySlotBackend, RedisSlotBackend
from tests.support.redis_count import RoundTrips

MODEL = "gpt-test"
COOLDOWN_S = 0.3
CONFIG = BreakerConfig(
    failure_threshold=3, error_rate=0.5, window_s=30, min_calls=10, cooldown_s=COOLDOWN_S
)
TIMINGS: dict[str, Any] = {"lease_ttl_s": 2.0, "heartbeat_s": 0.2, "acquire_timeout_s": 5.0}


@dataclass
class Rig:
    """Gates on one shared backend, and separate clients of it to set up and inspect state."""

    backends: Callable[[], tuple[Any, Any, Any, Any]]  # gate, slots, bucket, breaker backends
    expire: Callable[[FlowPassage], None]  # make a held lease run out, as if unrenewed

    def parts(self, **timings: Any) -> tuple[LeaseLimiter, TokenBucket, Breaker, Any]:
        """A limiter, bucket and breaker on the shared state, and the gate backend."""
        gate, slots, bucket, breaker = self.backends()
        limiter = LeaseLimiter(slots, **{**TIMINGS, **timings})
        return limiter, TokenBucket(bucket), Breaker(breaker, CONFIG), gate

    def gate(self, **timings: Any) -> FlowGate:
        """A gate, like one worker process's."""
        limiter, bucket, breaker, backend = self.parts(**timings)
        return FlowGate(backend, limiter=limiter, bucket=bucket, breaker=breaker)

    @property
    def limiter(self) -> LeaseLimiter:
        """A separate semaphore client on the same state."""
        return self.parts()[0]

    @property
    def bucket(self) -> TokenBucket:
        """A separate bucket client on the same state."""
        return self.parts()[1]

    @property
    def breaker(self) -> Breaker:
        """A separate breaker client on the same state."""
        return self.parts()[2]


@pytest.fixture(params=["redis", "memory"])
def rig(request: pytest.FixtureRequest) -> Rig:
    """The gate's world on one backend kind: every client made from it shares its state."""
    if request.param == "redis":
        client: redis.Redis = request.getfixturevalue("redis_client")

        def expire_redis(passage: FlowPassage) -> None:
            client.zadd(keys.semaphore(MODEL).leases, {passage.lease.token: 0}, xx=True)

        return Rig(
            lambda: (
                RedisGateBackend(client),
                RedisSlotBackend(client),
                RedisBucketBackend(client),
                RedisBreakerBackend(client),
            ),
            expire_redis,
        )
    skew = [0.0]  # the slots' clock jumps ahead to expire a lease
    slots = MemorySlotBackend(clock=lambda: time.monotonic() + skew[0])
    bucket, breaker = MemoryBucketBackend(), MemoryBreakerBackend()
    gate = MemoryGateBackend(slots=slots, bucket=bucket, breaker=breaker)

    def expire_memory(_: FlowPassage) -> None:
        skew[0] += 3600.0  # past any lease TTL of these tests

    return Rig(lambda: (gate, slots, bucket, breaker), expire_memory)


def _wait_until(cond: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.01)


def _trip(breaker: Breaker) -> None:
    for _ in range(CONFIG.failure_threshold):
        breaker.record(model=MODEL, ok=False)
    assert breaker.state(MODEL) == "open"


def _redis_parts(client: redis.Redis) -> dict[str, Any]:
    """A Redis gate's clients; a heartbeat too slow to interfere with what a test counts."""
    slots = RedisSlotBackend(client)
    return {
        "limiter": LeaseLimiter(slots, lease_ttl_s=60.0, heartbeat_s=30.0, acquire_timeout_s=5.0),
        "bucket": TokenBucket(RedisBucketBackend(client)),
        "breaker": Breaker(RedisBreakerBackend(client), CONFIG),
    }


def test_a_granted_call_makes_one_round_trip_in_and_one_out(
    redis_client: redis.Redis, unit_redis_url: str
) -> None:
    trips = RoundTrips()
    client = trips.client(unit_redis_url)
    gate = FlowGate(RedisGateBackend(client), **_redis_parts(client))
    warm = gate.enter(model=MODEL, tokens=10, per_minute=60_000, cap=2)  # connects, loads
    gate.leave(warm, ok=True, actual_tokens=8)
    trips.reset()
    passage = gate.enter(model=MODEL, tokens=10, per_minute=60_000, cap=2)
    assert trips.sent == ["EVALSHA"]
    gate.leave(passage, ok=True, actual_tokens=7)
    assert trips.sent == ["EVALSHA", "EVALSHA"]
    client.close()


def test_the_cap_holds_under_30_racing_threads(rig: Rig) -> None:
    lock = threading.Lock()
    inside, peak, done = 0, 0, 0
    gates = [rig.gate() for _ in range(3)]  # three "workers" on one backend

    def work(i: int) -> None:
        nonlocal inside, peak, done
        gate = gates[i % 3]
        passage = gate.enter(model=MODEL, tokens=10, per_minute=600_000, cap=4)
        with lock:
            inside += 1
            peak = max(peak, inside)
        time.sleep(0.02)
        with lock:
            inside -= 1
        gate.leave(passage, ok=True, actual_tokens=10)
        with lock:
            done += 1

    threads = [threading.Thread(target=work, args=(i,)) for i in range(30)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert done == 30
    assert peak == 4
    assert rig.limiter.in_use(MODEL) == 0
    assert rig.limiter.waiting(MODEL) == 0


def test_an_open_breaker_refuses_without_taking_tokens_or_a_place_in_line(rig: Rig) -> None:
    _trip(rig.breaker)
    with pytest.raises(CircuitOpen) as refused:
        rig.gate().enter(model=MODEL, tokens=50, per_minute=60, cap=1)
    assert refused.value.message == f"{MODEL}: circuit open"
    assert refused.value.attempts == 0
    assert rig.bucket.level(key=MODEL, per_minute=60) == 60  # still full
    assert rig.limiter.waiting(MODEL) == 0
    assert rig.limiter.in_use(MODEL) == 0


@pytest.mark.parametrize(("ok", "after"), [(True, "closed"), (False, "open")])
def test_the_half_open_probe_goes_to_one_caller_and_its_outcome_settles_the_breaker(
    rig: Rig, ok: bool, after: str
) -> None:
    gate = rig.gate()
    closed = gate.enter(model=MODEL, tokens=1, per_minute=60_000, cap=5)
    assert not closed.probe
    gate.leave(closed, ok=True, actual_tokens=1)
    breaker = rig.breaker
    _trip(breaker)
    time.sleep(COOLDOWN_S + 0.05)
    probe = gate.enter(model=MODEL, tokens=1, per_minute=60_000, cap=5)
    assert probe.probe
    with pytest.raises(CircuitOpen):
        rig.gate().enter(model=MODEL, tokens=1, per_minute=60_000, cap=5)
    gate.leave(probe, ok=ok, actual_tokens=1)
    assert breaker.state(MODEL) == after
    assert breaker.opened_total(MODEL) == (1 if ok else 2)


def test_a_short_bucket_makes_the_caller_wait_and_still_get_its_slot(rig: Rig) -> None:
    rig.bucket.take(key=MODEL, tokens=600, per_minute=600)  # empty: 10 tokens a second
    gate = rig.gate()
    started = time.monotonic()
    passage = gate.enter(model=MODEL, tokens=5, per_minute=600, cap=1)
    assert time.monotonic() - started >= 0.4
    assert rig.limiter.in_use(MODEL) == 1
    assert rig.limiter.waiting(MODEL) == 0
    gate.leave(passage, ok=True, actual_tokens=5)
    assert rig.limiter.in_use(MODEL) == 0


def test_waiting_for_a_slot_keeps_the_tokens(rig: Rig) -> None:
    holder = rig.limiter
    held = holder.acquire(key=MODEL, cap=1)
    gate = rig.gate()
    got: list[FlowPassage] = []
    waiter = threading.Thread(
        target=lambda: got.append(gate.enter(model=MODEL, tokens=300, per_minute=600, cap=1))
    )
    waiter.start()
    _wait_until(lambda: rig.limiter.waiting(MODEL) == 1)
    assert rig.bucket.level(key=MODEL, per_minute=600) <= 310  # taken before the line
    holder.release(held, cap=1)
    waiter.join(timeout=5)
    assert got, "the waiter never got the slot"
    assert rig.limiter.in_use(MODEL) == 1
    assert rig.bucket.level(key=MODEL, per_minute=600) <= 320  # and kept while waiting
    gate.leave(got[0], ok=True, actual_tokens=300)


def test_leave_corrects_the_bucket_by_estimated_minus_actual(rig: Rig) -> None:
    gate = rig.gate()  # 60 a minute: one token a second refills, within the bounds below
    passage = gate.enter(model=MODEL, tokens=50, per_minute=60, cap=1)
    gate.leave(passage, ok=True, actual_tokens=20)
    assert 40 <= rig.bucket.level(key=MODEL, per_minute=60) <= 41
    passage = gate.enter(model=MODEL, tokens=30, per_minute=60, cap=1)
    gate.leave(passage, ok=True, actual_tokens=60)
    assert -20 <= rig.bucket.level(key=MODEL, per_minute=60) <= -19


def test_leave_with_ok_none_records_nothing(rig: Rig) -> None:
    gate = rig.gate()
    for _ in range(CONFIG.failure_threshold):
        gate.leave(
            gate.enter(model=MODEL, tokens=1, per_minute=60_000, cap=1), ok=None, actual_tokens=1
        )
    assert rig.breaker.state(MODEL) == "closed"
    for _ in range(CONFIG.failure_threshold):
        gate.leave(
            gate.enter(model=MODEL, tokens=1, per_minute=60_000, cap=1), ok=False, actual_tokens=1
        )
    assert rig.breaker.state(MODEL) == "open"
    time.sleep(COOLDOWN_S + 0.05)
    probe = gate.enter(model=MODEL, tokens=1, per_minute=60_000, cap=1)
    gate.leave(probe, ok=None, actual_tokens=1)  # the call never went out: the probe stays
    assert rig.breaker.state(MODEL) == "half_open"
    with pytest.raises(CircuitOpen):
        gate.enter(model=MODEL, tokens=1, per_minute=60_000, cap=1)


def test_the_heartbeat_renews_a_lease_the_gate_granted(rig: Rig) -> None:
    gate = rig.gate(lease_ttl_s=0.5, heartbeat_s=0.1)
    passage = gate.enter(model=MODEL, tokens=1, per_minute=60_000, cap=1)
    time.sleep(1.0)
    assert rig.limiter.in_use(MODEL) == 1
    assert not passage.lease_lost.is_set()
    gate.leave(passage, ok=True, actual_tokens=1)
    assert rig.limiter.in_use(MODEL) == 0
    assert not passage.lease_lost.is_set()


def test_a_lease_that_expired_is_reported_lost_on_the_passage(rig: Rig) -> None:
    gate = rig.gate()
    passage = gate.enter(model=MODEL, tokens=1, per_minute=60_000, cap=1)
    rig.expire(passage)
    _wait_until(passage.lease_lost.is_set, timeout=2.0)  # the next beat finds it gone
    gate.leave(passage, ok=True, actual_tokens=1)
    assert rig.limiter.in_use(MODEL) == 0


def test_leave_reports_a_lease_lost_before_the_heartbeat_saw_it(rig: Rig) -> None:
    gate = rig.gate(lease_ttl_s=60.0, heartbeat_s=30.0)
    passage = gate.enter(model=MODEL, tokens=1, per_minute=60_000, cap=1)
    rig.expire(passage)
    gate.leave(passage, ok=True, actual_tokens=1)
    assert passage.lease_lost.is_set()


def test_leave_swallows_a_redis_error(redis_client: redis.Redis) -> None:
    parts = _redis_parts(redis_client)
    good = FlowGate(RedisGateBackend(redis_client), **parts)
    # nothing listens there, and no retries: the error comes at once
    dead = redis.Redis(port=free_port(), socket_connect_timeout=0.2, retry=Retry(NoBackoff(), 0))
    broken = FlowGate(RedisGateBackend(dead), **parts)
    passage = good.enter(model=MODEL, tokens=1, per_minute=60_000, cap=1)
    broken.leave(passage, ok=False, actual_tokens=1)  # must not raise
    assert parts["limiter"].in_use(MODEL) == 1  # the lease runs out on its own within its TTL
    assert not passage.lease_lost.is_set()
    good.leave(passage, ok=True, actual_tokens=1)
    assert parts["limiter"].in_use(MODEL) == 0
