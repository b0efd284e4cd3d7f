"""The kill switch's contract, on the Redis backend and the in-memory one alike."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from tasks.errors import Paused
from tasks.flow.killswitch import (
    CachedKillSwitch,
    MemoryKillSwitch,
    MemorySwitchBackend,
    RedisKillSwitch,
    SwitchBackend,
)
from tasks.flow.killswitch.redis_backend import RedisSwitchBackend


@dataclass
class Switches:
    """Switches sharing one backend (like workers sharing one Redis), and that backend."""

    make: Callable[..., CachedKillSwitch]
    backend: SwitchBackend  # to write the stored value by hand, behind the switches' backs


@pytest.fixture(params=["redis", "memory"])
def switches(request: pytest.FixtureRequest) -> Switches:
    """The Redis or the in-memory kind."""
    if request.param == "redis":
        client = request.getfixturevalue("redis_client")
        return Switches(
            make=lambda **opts: RedisKillSwitch(client, **opts),
            backend=RedisSwitchBackend(client),
        )
    backend = MemorySwitchBackend()
    return Switches(make=lambda **opts: MemoryKillSwitch(backend=backend, **opts), backend=backend)


def _raises_within(switch: CachedKillSwitch, seconds: float) -> float | None:
    start = time.monotonic()
    while time.monotonic() - start < seconds:
        try:
            switch.check()
        except Paused:
            return time.monotonic() - start
        time.sleep(0.01)
    return None


def test_check_raises_within_a_second_of_set(switches: Switches) -> None:
    worker = switches.make()
    worker.check()  # caches "off"
    switches.make().set(True, reason="provider incident")
    assert _raises_within(worker, 1.0) is not None
    with pytest.raises(Paused, match="provider incident"):
        worker.check()
    assert worker.status()["on"] is True
    assert worker.status()["reason"] == "provider incident"


def test_check_resumes_after_unset(switches: Switches) -> None:
    operator = switches.make()
    operator.set(True, reason="maintenance")
    worker = switches.make()
    with pytest.raises(Paused):
        worker.check()
    operator.set(False)
    time.sleep(0.6)
    worker.check()
    assert worker.status() == {"on": False, "reason": "", "since": None}


def test_reads_are_cached_between_checks(switches: Switches) -> None:
    worker = switches.make(cache_s=60)
    worker.check()
    switches.backend.put(b"set by hand")
    worker.check()  # still the cached "off"
    worker.set(True, reason="x")
    with pytest.raises(Paused):
        worker.check()


def test_a_value_set_by_hand_is_its_own_reason(switches: Switches) -> None:
    switches.backend.put(b"set by hand")
    with pytest.raises(Paused, match="kill switch is on: set by hand"):
        switches.make().check()
    assert switches.make().status() == {"on": True, "reason": "set by hand", "since": None}


def test_the_cache_follows_the_injected_clock(switches: Switches) -> None:
    now = [0.0]
    worker = switches.make(cache_s=10, clock=lambda: now[0])
    worker.check()
    switches.make().set(True, reason="incident")
    now[0] = 9.9
    worker.check()  # still cached
    now[0] = 10.0
    with pytest.raises(Paused, match="incident"):
        worker.check()
