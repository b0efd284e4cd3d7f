"""The in-memory circuit breaker on a hand-moved clock: exact cool-down and window."""

from __future__ import annotations

from schemas.config import BreakerConfig
from tasks.flow.breaker import MemoryBreakerBackend, MemoryCircuitBreaker
from tests.unit.flow.clock import ManualClock

MODEL = "gpt-test"


def _breaker(clock: ManualClock, **overrides: float) -> MemoryCircuitBreaker:
    fields = {"failure_threshold": 3, "error_rate": 0.5, "window_s": 10, "min_calls": 4}
    config = BreakerConfig(**{**fields, "cooldown_s": 5.0, **overrides})
    return MemoryCircuitBreaker(config, backend=MemoryBreakerBackend(clock), probe_ttl_s=2.0)


def _opened(clock: ManualClock) -> MemoryCircuitBreaker:
    breaker = _breaker(clock)
    for _ in range(3):
        breaker.record(model=MODEL, ok=False)
    return breaker


def test_the_cooldown_ends_exactly_on_the_clock() -> None:
    clock = ManualClock()
    breaker = _opened(clock)
    clock.advance(4.999)
    assert breaker.state(MODEL) == "open"
    assert not breaker.allow(model=MODEL)
    clock.advance(0.001)
    assert breaker.state(MODEL) == "half_open"
    assert breaker.allow(model=MODEL)


def test_an_unsettled_probe_is_given_out_again_after_its_ttl() -> None:
    clock = ManualClock()
    breaker = _opened(clock)
    clock.advance(5)
    assert breaker.allow(model=MODEL)
    clock.advance(1.9)
    assert not breaker.allow(model=MODEL)
    clock.advance(0.1)
    assert breaker.allow(model=MODEL)


def test_failures_that_left_the_window_do_not_count_toward_the_error_rate() -> None:
    clock = ManualClock()
    breaker = _breaker(clock, failure_threshold=100)
    breaker.record(model=MODEL, ok=False)
    breaker.record(model=MODEL, ok=False)
    clock.advance(10)  # those two seconds-old failures are now outside the 10 s window
    breaker.record(model=MODEL, ok=True)
    breaker.record(model=MODEL, ok=True)
    breaker.record(model=MODEL, ok=False)
    assert breaker.state(MODEL) == "closed"  # 3 calls in the window: below min_calls
    breaker.record(model=MODEL, ok=False)
    assert breaker.state(MODEL) == "open"  # 4 calls, 2 failed
