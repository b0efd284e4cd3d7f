"""The circuit breaker's contract, on the Redis backend and the in-memory one alike."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest

from schemas.config import BreakerConfig
from tasks.flow.breaker import (
    Breaker,
    MemoryBreakerBackend,
    MemoryCircuitBreaker,
    RedisCircuitBreaker,
)

MODEL = "gpt-test"
COOLDOWN_S = 0.3

MakeBreaker = Callable[..., Breaker]


@pytest.fixture(params=["redis", "memory"])
def make_breaker(request: pytest.FixtureRequest) -> MakeBreaker:
    """Breakers that share one backend (like workers sharing one Redis), per backend kind."""
    client = request.getfixturevalue("redis_client") if request.param == "redis" else None
    memory = MemoryBreakerBackend()

    def make(
        *,
        failure_threshold: int = 3,
        error_rate: float = 0.5,
        min_calls: int = 10,
        probe_ttl_s: float = 60.0,
    ) -> Breaker:
        config = BreakerConfig(
            failure_threshold=failure_threshold,
            error_rate=error_rate,
            window_s=30,
            min_calls=min_calls,
            cooldown_s=COOLDOWN_S,
        )
        if client is not None:
            return RedisCircuitBreaker(client, config, probe_ttl_s=probe_ttl_s)
        return MemoryCircuitBreaker(config, backend=memory, probe_ttl_s=probe_ttl_s)

    return make


def _open(breaker: Breaker) -> None:
    for _ in range(3):
        breaker.record(model=MODEL, ok=False)
    assert breaker.state(MODEL) == "open"


def test_opens_after_n_consecutive_failures(make_breaker: MakeBreaker) -> None:
    breaker = make_breaker()
    breaker.record(model=MODEL, ok=False)
    breaker.record(model=MODEL, ok=False)
    breaker.record(model=MODEL, ok=True)  # a success resets the streak
    breaker.record(model=MODEL, ok=False)
    breaker.record(model=MODEL, ok=False)
    assert breaker.state(MODEL) == "closed"
    assert breaker.allow(model=MODEL)
    breaker.record(model=MODEL, ok=False)
    assert breaker.state(MODEL) == "open"
    assert breaker.opened_total(MODEL) == 1
    assert breaker.state("other-model") == "closed"


def test_opens_on_error_rate(make_breaker: MakeBreaker) -> None:
    breaker = make_breaker(failure_threshold=100, error_rate=0.5, min_calls=10)
    for i in range(9):
        breaker.record(model=MODEL, ok=i % 2 == 0)  # 5 ok, 4 failed: below min_calls
    assert breaker.state(MODEL) == "closed"
    breaker.record(model=MODEL, ok=False)  # 10 calls, 5 failed: ratio 0.5
    assert breaker.state(MODEL) == "open"
    assert breaker.opened_total(MODEL) == 1


def test_a_healthy_error_rate_keeps_it_closed(make_breaker: MakeBreaker) -> None:
    breaker = make_breaker(failure_threshold=100, error_rate=0.5, min_calls=10)
    for i in range(40):
        breaker.record(model=MODEL, ok=i % 3 != 0)  # a third fail
    assert breaker.state(MODEL) == "closed"


def test_skips_while_open(make_breaker: MakeBreaker) -> None:
    breaker = make_breaker()
    _open(breaker)
    other_worker = make_breaker()
    assert not any(other_worker.allow(model=MODEL) for _ in range(10))
    assert not breaker.allow(model=MODEL)
    assert breaker.state(MODEL) == "open"


def test_half_open_lets_exactly_one_probe_through_among_20_concurrent_calls(
    make_breaker: MakeBreaker,
) -> None:
    breaker = make_breaker()
    _open(breaker)
    time.sleep(COOLDOWN_S + 0.1)
    assert breaker.state(MODEL) == "half_open"
    gate = threading.Barrier(20)

    def call() -> bool:
        gate.wait()
        return breaker.allow(model=MODEL)

    with ThreadPoolExecutor(max_workers=20) as pool:
        results = list(pool.map(lambda _: call(), range(20)))
    assert results.count(True) == 1


def test_probe_success_closes(make_breaker: MakeBreaker) -> None:
    breaker = make_breaker()
    _open(breaker)
    time.sleep(COOLDOWN_S + 0.1)
    assert breaker.allow(model=MODEL)
    assert not make_breaker().allow(model=MODEL)
    breaker.record(model=MODEL, ok=True)
    assert breaker.state(MODEL) == "closed"
    assert all(breaker.allow(model=MODEL) for _ in range(5))
    breaker.record(model=MODEL, ok=False)
    breaker.record(model=MODEL, ok=False)
    assert breaker.state(MODEL) == "closed"  # the failure streak started again from zero


def test_probe_failure_reopens_with_a_fresh_cooldown(make_breaker: MakeBreaker) -> None:
    breaker = make_breaker()
    _open(breaker)
    time.sleep(COOLDOWN_S + 0.1)
    assert breaker.allow(model=MODEL)
    breaker.record(model=MODEL, ok=False)
    assert breaker.state(MODEL) == "open"
    assert breaker.opened_total(MODEL) == 2
    assert not breaker.allow(model=MODEL)
    time.sleep(COOLDOWN_S + 0.1)
    assert breaker.allow(model=MODEL)  # the next probe


def test_a_late_result_from_a_non_probe_call_does_not_close_it(
    make_breaker: MakeBreaker,
) -> None:
    breaker = make_breaker()
    _open(breaker)
    time.sleep(COOLDOWN_S + 0.1)
    prober = make_breaker()
    assert prober.allow(model=MODEL)
    breaker.record(model=MODEL, ok=True)  # a call that began before the breaker opened
    assert breaker.state(MODEL) == "half_open"
    breaker.record(model=MODEL, ok=False)
    assert breaker.opened_total(MODEL) == 1


def test_a_lost_probe_is_reclaimed_after_its_ttl(make_breaker: MakeBreaker) -> None:
    breaker = make_breaker(probe_ttl_s=0.2)
    _open(breaker)
    time.sleep(COOLDOWN_S + 0.1)
    assert breaker.allow(model=MODEL)  # this probe's worker dies without recording
    other = make_breaker(probe_ttl_s=0.2)
    assert not other.allow(model=MODEL)
    time.sleep(0.3)
    assert other.allow(model=MODEL)
    other.record(model=MODEL, ok=True)
    assert other.state(MODEL) == "closed"


def test_reset_closes_it_and_keeps_the_total(make_breaker: MakeBreaker) -> None:
    breaker = make_breaker()
    _open(breaker)
    breaker.reset(MODEL)
    assert breaker.state(MODEL) == "closed"
    assert breaker.allow(model=MODEL)
    breaker.record(model=MODEL, ok=False)
    breaker.record(model=MODEL, ok=False)
    assert breaker.state(MODEL) == "closed"  # the streak was cleared too
    assert breaker.opened_total(MODEL) == 1
