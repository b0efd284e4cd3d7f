"""The in-memory token bucket on a hand-moved clock: exact refill, waits and expiry."""

from __future__ import annotations

from tasks.flow.bucket import MemoryBucketBackend, MemoryTokenBucket
from tests.unit.flow.clock import ManualClock

KEY = "gpt-test"


def test_the_bucket_refills_at_per_minute_over_sixty_seconds() -> None:
    clock = ManualClock()
    bucket = MemoryTokenBucket(backend=MemoryBucketBackend(clock))
    bucket.take(key=KEY, tokens=600, per_minute=600)
    assert bucket.level(key=KEY, per_minute=600) == 0
    clock.advance(30)
    assert bucket.level(key=KEY, per_minute=600) == 300
    clock.advance(60)
    assert bucket.level(key=KEY, per_minute=600) == 600  # never above the capacity


def test_take_reports_the_milliseconds_until_the_tokens_fit() -> None:
    clock = ManualClock()
    backend = MemoryBucketBackend(clock)
    assert backend.take(key=KEY, tokens=600, per_minute=600) == 0
    assert backend.take(key=KEY, tokens=100, per_minute=600) == 10_000  # 10 tokens/s
    assert backend.take(key=KEY, tokens=5000, per_minute=600) == 60_000  # at most until full
    clock.advance(10)
    assert backend.take(key=KEY, tokens=100, per_minute=600) == 0


def test_a_correction_never_fills_past_the_capacity() -> None:
    bucket = MemoryTokenBucket(backend=MemoryBucketBackend(ManualClock()))
    bucket.take(key=KEY, tokens=100, per_minute=600)
    bucket.correct(key=KEY, estimated=1000, actual=0, per_minute=600)
    assert bucket.level(key=KEY, per_minute=600) == 600


def test_an_idle_bucket_is_forgotten_a_second_after_it_would_be_full_again() -> None:
    clock = ManualClock()
    backend = MemoryBucketBackend(clock)
    for key in ("kept", "forgotten"):  # 400 in debt at 10 tokens/s: full in 100 s
        backend.take(key=key, tokens=1000, per_minute=600)
    clock.advance(100.999)
    # read at a tenth of the rate, the kept state is still deep in debt...
    assert backend.correct(key="kept", delta=0, per_minute=60) == -300
    clock.advance(0.002)
    # ...while the forgotten one starts again as a full bucket
    assert backend.correct(key="forgotten", delta=0, per_minute=60) == 60
