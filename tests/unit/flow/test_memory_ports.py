"""The in-memory backends fit the engine's ports, so a worker-core test can run on them."""

from __future__ import annotations

from decimal import Decimal

import pytest

from schemas.config import BreakerConfig
from tasks.engine.ports import Budget, CircuitBreaker, KillSwitch, RateLimiter, SlotLimiter
from tasks.errors import BudgetExceeded, Paused
from tasks.flow.breaker import MemoryCircuitBreaker
from tasks.flow.bucket import MemoryTokenBucket
from tasks.flow.budget import MemoryBudget
from tasks.flow.killswitch import MemoryKillSwitch
from tasks.flow.semaphore import MemorySlotLimiter

MODEL = "gpt-test"


def test_every_memory_backend_serves_the_engine_through_its_port() -> None:
    limiter: SlotLimiter = MemorySlotLimiter(lease_ttl_s=2, heartbeat_s=1, acquire_timeout_s=1)
    with limiter.slot(key=MODEL, cap=1):
        pass
    rate: RateLimiter = MemoryTokenBucket(timeout_s=0.1)
    rate.take(key=MODEL, tokens=60, per_minute=60)
    rate.correct(key=MODEL, estimated=60, actual=0, per_minute=60)
    rate.take(key=MODEL, tokens=60, per_minute=60)  # the correction gave them back
    config = BreakerConfig(
        failure_threshold=1, error_rate=1.0, window_s=10, min_calls=10, cooldown_s=60
    )
    breaker: CircuitBreaker = MemoryCircuitBreaker(config)
    assert breaker.allow(model=MODEL)
    breaker.record(model=MODEL, ok=False)
    assert not breaker.allow(model=MODEL)
    budget: Budget = MemoryBudget(monthly_usd=Decimal("1.00"))
    budget.reserve(Decimal("0.90")).settle(Decimal("0.90"))
    with pytest.raises(BudgetExceeded):
        budget.reserve(Decimal("0.20"))
    switch = MemoryKillSwitch()
    port: KillSwitch = switch
    port.check()
    switch.set(True, reason="drill")
    with pytest.raises(Paused, match="drill"):
        port.check()
