"""The tokens-per-minute bucket's contract, on the Redis backend and the in-memory one."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from tasks.errors import SlotTimeout
from tasks.flow.bucket import MemoryBucketBackend, MemoryTokenBucket, RedisTokenBucket, TokenBucket

MODEL = "gpt-test"

MakeBucket = Callable[..., TokenBucket]


@pytest.fixture(params=["redis", "memory"])
def make_bucket(request: pytest.FixtureRequest) -> MakeBucket:
    """Buckets that share one backend (like workers sharing one Redis), per backend kind."""
    if request.param == "redis":
        client = request.getfixturevalue("redis_client")
        return lambda **opts: RedisTokenBucket(client, **opts)
    backend = MemoryBucketBackend()
    return lambda **opts: MemoryTokenBucket(backend=backend, **opts)


def test_a_fresh_bucket_is_full(make_bucket: MakeBucket) -> None:
    bucket = make_bucket()
    started = time.monotonic()
    bucket.take(key=MODEL, tokens=6000, per_minute=6000)
    assert time.monotonic() - started < 0.1
    assert bucket.level(key=MODEL, per_minute=6000) < 10


def test_bucket_blocks_when_tokens_per_minute_are_spent(make_bucket: MakeBucket) -> None:
    bucket = make_bucket()
    bucket.take(key=MODEL, tokens=6000, per_minute=6000)  # 100 tokens/s refill
    started = time.monotonic()
    bucket.take(key=MODEL, tokens=50, per_minute=6000)
    assert 0.45 <= time.monotonic() - started < 1.0


def test_correction_returns_unused_tokens(make_bucket: MakeBucket) -> None:
    bucket = make_bucket()
    bucket.take(key=MODEL, tokens=600, per_minute=600)
    bucket.correct(key=MODEL, estimated=600, actual=100, per_minute=600)
    started = time.monotonic()
    bucket.take(key=MODEL, tokens=400, per_minute=600)
    assert time.monotonic() - started < 0.1
    assert 100 <= bucket.level(key=MODEL, per_minute=600) <= 110


def test_correction_deducts_an_underestimate(make_bucket: MakeBucket) -> None:
    bucket = make_bucket()
    bucket.take(key=MODEL, tokens=1000, per_minute=60_000)
    bucket.correct(key=MODEL, estimated=1000, actual=3000, per_minute=60_000)
    assert 57_000 <= bucket.level(key=MODEL, per_minute=60_000) <= 57_500


def test_a_request_larger_than_capacity_passes_once_the_bucket_is_full(
    make_bucket: MakeBucket,
) -> None:
    bucket = make_bucket(timeout_s=0.3)
    bucket.take(key=MODEL, tokens=1000, per_minute=600)  # full bucket: allowed, leaves debt
    assert bucket.level(key=MODEL, per_minute=600) < 0
    with pytest.raises(SlotTimeout):
        bucket.take(key=MODEL, tokens=1, per_minute=600)  # the debt is paid off first


def test_take_times_out_with_slot_timeout(make_bucket: MakeBucket) -> None:
    bucket = make_bucket(timeout_s=0.3)
    bucket.take(key=MODEL, tokens=60, per_minute=60)
    started = time.monotonic()
    with pytest.raises(SlotTimeout):
        bucket.take(key=MODEL, tokens=30, per_minute=60)
    assert 0.3 <= time.monotonic() - started < 0.6


def test_each_model_has_its_own_bucket(make_bucket: MakeBucket) -> None:
    bucket = make_bucket(timeout_s=0.1)
    bucket.take(key=MODEL, tokens=600, per_minute=600)
    bucket.take(key="other-model", tokens=600, per_minute=600)


def test_concurrent_takers_share_one_budget(make_bucket: MakeBucket) -> None:
    buckets = [make_bucket() for _ in range(3)]  # three "workers"
    started = time.monotonic()
    for _ in range(4):
        for b in buckets:
            b.take(key=MODEL, tokens=500, per_minute=6000)  # 6000 taken, 100/s refill
    assert time.monotonic() - started < 0.2
    buckets[0].take(key=MODEL, tokens=30, per_minute=6000)
    assert time.monotonic() - started >= 0.25


def test_an_exact_estimate_needs_no_correction_and_zero_tokens_never_wait(
    make_bucket: MakeBucket,
) -> None:
    bucket = make_bucket(timeout_s=0.1)
    bucket.take(key=MODEL, tokens=600, per_minute=600)
    bucket.correct(key=MODEL, estimated=600, actual=600, per_minute=600)
    bucket.take(key=MODEL, tokens=0, per_minute=600)
    assert bucket.level(key=MODEL, per_minute=600) < 5


def test_a_non_positive_rate_is_refused(make_bucket: MakeBucket) -> None:
    bucket = make_bucket()
    with pytest.raises(ValueError, match="per_minute must be > 0"):
        bucket.take(key=MODEL, tokens=1, per_minute=0)
    with pytest.raises(ValueError, match="per_minute must be > 0"):
        bucket.correct(key=MODEL, estimated=2, actual=1, per_minute=0)
