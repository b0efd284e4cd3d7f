"""ComposedGate passes a call through the three separate ports in today's order."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from tasks.engine.gate import ComposedGate
from tasks.engine.ports import CallGate
from tasks.errors import CircuitOpen

MODEL = "gpt-test"


class Ports:
    """Tiny fakes of SlotLimiter, RateLimiter and CircuitBreaker, logging every call."""

    def __init__(self, *, allow: bool = True, failing: str = "") -> None:
        self.allowed = allow
        self.failing = failing  # the name of the one step that raises
        self.log: list[str] = []

    def _step(self, name: str) -> None:
        self.log.append(name)
        if name == self.failing:
            raise ConnectionError(f"{name} is down")

    @contextmanager
    def slot(self, *, key: str, cap: int) -> Iterator[None]:
        self._step(f"slot:{key}:{cap}")
        yield
        self._step("release")

    def take(self, *, key: str, tokens: int, per_minute: int) -> None:
        self._step(f"take:{tokens}/{per_minute}")

    def correct(self, *, key: str, estimated: int, actual: int, per_minute: int) -> None:
        self._step(f"correct:{estimated}->{actual}")

    def allow(self, *, model: str) -> bool:
        self._step("allow")
        return self.allowed

    def record(self, *, model: str, ok: bool) -> None:
        self._step(f"record:{ok}")


def _gate(ports: Ports) -> CallGate:
    return ComposedGate(ports, ports, ports)


def test_a_call_passes_breaker_then_bucket_then_slot_and_leaves_in_reverse() -> None:
    ports = Ports()
    gate = _gate(ports)
    passage = gate.enter(model=MODEL, tokens=100, per_minute=600, cap=2)
    assert ports.log == ["allow", "take:100/600", f"slot:{MODEL}:2"]
    assert passage.model == MODEL
    assert passage.tokens == 100
    assert not passage.lease_lost.is_set()
    gate.leave(passage, ok=True, actual_tokens=80)
    assert ports.log[3:] == ["release", "correct:100->80", "record:True"]


def test_a_refused_breaker_raises_circuit_open_and_takes_no_tokens_or_slot() -> None:
    ports = Ports(allow=False)
    with pytest.raises(CircuitOpen) as refused:
        _gate(ports).enter(model=MODEL, tokens=100, per_minute=600, cap=2)
    assert refused.value.message == f"{MODEL}: circuit open"
    assert refused.value.attempts == 0
    assert ports.log == ["allow"]


def test_leave_with_ok_none_and_exact_tokens_only_frees_the_slot() -> None:
    ports = Ports()
    gate = _gate(ports)
    gate.leave(gate.enter(model=MODEL, tokens=5, per_minute=60, cap=1), ok=None, actual_tokens=5)
    assert ports.log[3:] == ["release"]


@pytest.mark.parametrize("failing", ["release", "correct:5->1", "record:False"])
def test_leave_swallows_a_failing_port_and_still_runs_the_other_steps(failing: str) -> None:
    ports = Ports(failing=failing)
    gate = _gate(ports)
    gate.leave(gate.enter(model=MODEL, tokens=5, per_minute=60, cap=1), ok=False, actual_tokens=1)
    assert ports.log[3:] == ["release", "correct:5->1", "record:False"]


def test_leave_refuses_a_passage_of_another_gate() -> None:
    ports = Ports()
    with pytest.raises(TypeError):
        _gate(ports).leave(object(), ok=True, actual_tokens=5)  # type: ignore[arg-type]
    assert ports.log == []
