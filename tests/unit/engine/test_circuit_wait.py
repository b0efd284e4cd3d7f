"""call_chain waits out a chain whose circuits are all open, within the job's deadline."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pytest
from pydantic import BaseModel

from schemas.config import DEFAULT_CONFIG, load_config
from tasks.engine import chain as engine_mod
from tasks.engine.models import Engine
from tasks.errors import CircuitOpen, ProviderError
from tests.support.fakes import NoReplays


class Out(BaseModel):
    x: int


@dataclass
class World:
    """Fake ports on a fake clock: every breaker stays open until `open_until`."""

    open_until: float
    now: float = 0.0
    sleeps: list[float] = field(default_factory=list)
    calls: list[str] = field(default_factory=list)
    fail_with: Exception | None = None

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def allow(self, *, model: str) -> bool:
        return self.now >= self.open_until

    def extract(self, *, model: str, **_: Any) -> BaseModel:
        self.calls.append(model)
        if self.fail_with is not None:
            raise self.fail_with
        return Out(x=1)


class _Ports(NoReplays):
    def __init__(self, world: World) -> None:
        self.world = world

    @contextmanager
    def slot(self, *, key: str, cap: int) -> Iterator[None]:
        yield

    def take(self, **_: Any) -> None: ...
    def correct(self, **_: Any) -> None: ...
    def check(self) -> None: ...
    def record(self, **_: Any) -> None: ...
    def settle(self, _: Decimal) -> None: ...
    def open(self, **_: Any) -> int | None:
        return None

    def close(self, _: Any) -> bool:
        return True

    def reserve(self, _: Decimal) -> _Ports:
        return self

    def allow(self, *, model: str) -> bool:
        return self.world.allow(model=model)


def _chain(world: World, *, deadline: float) -> tuple[BaseModel, str]:
    ports = _Ports(world)
    engine = Engine(
        config=load_config(DEFAULT_CONFIG),
        extract=world.extract,
        limiter=ports,
        rate=ports,
        breaker=ports,
        budget=ports,
        killswitch=ports,
        ledger=ports,
        sleep=world.sleep,
        clock=lambda: world.now,
    )
    messages = [{"role": "user", "content": "hello"}]
    return engine_mod.call_chain(
        engine=engine, tier="low", messages=messages, response_model=Out, chunk=None,
        deadline=deadline,
    )  # fmt: skip


def test_a_chain_whose_circuits_are_all_open_waits_for_a_probe_instead_of_failing() -> None:
    world = World(open_until=3.0)
    parsed, model = _chain(world, deadline=60.0)
    assert parsed == Out(x=1)
    assert model == "gpt-5.6-luna"
    assert 3.0 <= world.now < 3.0 + 2 * engine_mod.CIRCUIT_POLL_S
    assert world.calls == ["gpt-5.6-luna"]  # nothing went out while the circuits were open


def test_a_chain_still_circuit_open_at_the_deadline_fails_with_a_provider_error() -> None:
    world = World(open_until=1e9)
    with pytest.raises(CircuitOpen, match="circuit open"):
        _chain(world, deadline=5.0)
    assert world.now <= 5.0
    assert world.calls == []


def test_a_real_provider_failure_fails_over_and_fails_without_waiting() -> None:
    world = World(open_until=0.0, fail_with=ValueError("bad request shape"))
    with pytest.raises(ProviderError, match="not retried") as caught:
        _chain(world, deadline=60.0)
    assert not isinstance(caught.value, CircuitOpen)
    assert world.calls == ["gpt-5.6-luna", "claude-haiku-5-5"]
    assert world.sleeps == []
