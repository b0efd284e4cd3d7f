"""The in-memory semaphore on a hand-moved clock: exact lease and waiter expiry."""

from __future__ import annotations

import pytest

from tasks.errors import SlotTimeout
from tasks.flow.semaphore import MemorySlotBackend, MemorySlotLimiter
from tests.unit.flow.clock import ManualClock

KEY = "gpt-test"
GHOST, RETRIED = "ghost", "retried"  # lease tokens


def _limiter(clock: ManualClock, **overrides: float) -> MemorySlotLimiter:
    opts = {"lease_ttl_s": 2.0, "heartbeat_s": 0.05, "acquire_timeout_s": 0.2, **overrides}
    return MemorySlotLimiter(backend=MemorySlotBackend(clock), **opts)


def test_a_lease_is_live_until_the_clock_reaches_its_ttl() -> None:
    clock = ManualClock()
    limiter = _limiter(clock)
    limiter.acquire(key=KEY, cap=1)
    clock.advance(1.999)
    assert limiter.in_use(KEY) == 1
    clock.advance(0.001)
    assert limiter.in_use(KEY) == 0
    assert limiter.expired_total(KEY) == 0  # counted once reaped, by the next acquire
    limiter.acquire(key=KEY, cap=1)
    assert limiter.expired_total(KEY) == 1


def test_renewing_extends_a_lease_from_now() -> None:
    clock = ManualClock()
    limiter = _limiter(clock)
    lease = limiter.acquire(key=KEY, cap=1)
    clock.advance(1.5)
    assert limiter.renew(key=KEY, tokens=[lease.token]) == []
    clock.advance(1.9)
    assert limiter.in_use(KEY) == 1
    clock.advance(0.1)
    assert limiter.renew(key=KEY, tokens=[lease.token, "never-held"]) == [
        lease.token,
        "never-held",
    ]
    assert limiter.expired_total(KEY) == 1


def test_a_stall_past_the_ttl_is_reported_as_a_lost_lease() -> None:
    clock = ManualClock()
    limiter = _limiter(clock, lease_ttl_s=1.0)
    with limiter.hold(key=KEY, cap=1) as lease:
        clock.advance(1.0)  # the next heartbeat finds the lease already run out
        assert lease.lost.wait(1.0)
        assert limiter.in_use(KEY) == 0
    assert limiter.expired_total(KEY) == 1


def test_a_waiter_that_stopped_polling_leaves_the_line_after_its_ttl() -> None:
    clock = ManualClock()
    backend = MemorySlotBackend(clock)
    limiter = MemorySlotLimiter(
        backend=backend, lease_ttl_s=2.0, heartbeat_s=0.5, acquire_timeout_s=0.1
    )
    first = limiter.acquire(key=KEY, cap=1)
    assert backend.grant(key=KEY, cap=1, token=GHOST, lease_ms=2000, waiter_ms=500) == 0
    limiter.release(first, cap=1)
    with pytest.raises(SlotTimeout):  # the ghost heads the line and owns the free slot
        limiter.acquire(key=KEY, cap=1)
    clock.advance(0.5)
    with limiter.slot(key=KEY, cap=1):
        assert limiter.waiting(KEY) == 0


def test_a_retried_grant_returns_the_same_fence() -> None:
    backend = MemorySlotBackend(ManualClock())
    fence = backend.grant(key=KEY, cap=1, token=RETRIED, lease_ms=1000, waiter_ms=500)
    assert fence > 0
    assert backend.grant(key=KEY, cap=1, token=RETRIED, lease_ms=1000, waiter_ms=500) == fence
    assert backend.in_use(KEY) == 1


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"heartbeat_s": 2.0}, "heartbeat_s < lease_ttl_s"),
        ({"poll_s": 2.0}, "poll_s < waiter_ttl_s"),
    ],
)
def test_timings_that_would_lose_live_leases_or_waiters_are_refused(
    overrides: dict[str, float], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        _limiter(ManualClock(), **overrides)
