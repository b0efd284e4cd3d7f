"""A call's budget hold settles to exactly what its ledger row will say, answered or not."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

import pytest
from pydantic import BaseModel

from schemas.config import DEFAULT_CONFIG, load_config
from tasks.engine import chain
from tasks.engine.cost import TokenUsage
from tasks.engine.llm import CallRecord
from tasks.engine.models import Billed, Engine
from tests.support.fakes import NoReplays


class Out(BaseModel):
    x: int


class Ports(NoReplays):
    """Flow ports that allow everything, and a ledger and budget that remember."""

    def __init__(self, *, close_ok: bool = True) -> None:
        self.close_ok = close_ok
        self.rows: dict[int, Decimal] = {}
        self.settled: list[Decimal] = []

    @contextmanager
    def slot(self, **_: Any) -> Iterator[None]:
        yield

    def take(self, **_: Any) -> None: ...
    def correct(self, **_: Any) -> None: ...
    def check(self) -> None: ...
    def record(self, **_: Any) -> None: ...
    def allow(self, **_: Any) -> bool:
        return True

    def reserve(self, _: Decimal) -> Ports:
        return self

    def settle(self, actual: Decimal) -> None:
        self.settled.append(actual)

    def open(self, *, reserved_usd: Decimal, **_: Any) -> int:
        self.rows[len(self.rows) + 1] = reserved_usd
        return len(self.rows)

    def close(self, billed: Billed) -> bool:
        if self.close_ok and billed.record.call_id is not None:
            self.rows[billed.record.call_id] = billed.cost_usd
        return self.close_ok


def _call(ports: Ports, extract: Any) -> None:
    engine = Engine(
        config=load_config(DEFAULT_CONFIG),
        extract=extract,
        limiter=ports,
        rate=ports,
        breaker=ports,
        budget=ports,
        killswitch=ports,
        ledger=ports,
        sleep=lambda _: None,
    )
    chain.call_model(
        engine=engine,
        tier="low",
        model="gpt-5.6-luna",
        messages=[{"role": "user", "content": "x?"}],
        response_model=Out,
        chunk=None,
        deadline=1e9,
    )


def _answering(*, opener: Any, sink: Any, model: str, provider: str, **_: Any) -> BaseModel:
    call_id = opener()
    sink(CallRecord(model, provider, TokenUsage(1000, 50), 5, "ok", 200, call_id))
    return Out(x=1)


def test_an_answered_call_settles_its_hold_to_the_cost_its_row_records() -> None:
    ports = Ports()
    _call(ports, _answering)
    assert ports.settled == [sum(ports.rows.values())]
    assert ports.settled[0] > 0


def test_a_call_that_never_answered_settles_at_the_reserved_cost_its_row_keeps() -> None:
    class Cut(Exception):
        pass

    def cut(*, opener: Any, **_: Any) -> BaseModel:
        opener()  # sent; the connection then died with no answer
        raise Cut

    ports = Ports()
    with pytest.raises(Exception, match="Cut"):
        _call(ports, cut)
    reserved = list(ports.rows.values())
    assert len(reserved) == 1
    assert reserved[0] > 0
    assert ports.settled == reserved


def test_a_row_the_reconciler_already_billed_as_unknown_settles_at_its_reserved_cost() -> None:
    ports = Ports(close_ok=False)
    _call(ports, _answering)
    assert ports.settled == list(ports.rows.values())  # the reserved cost, not the actual


def test_a_replayed_answer_that_failed_validation_marks_its_billed_row_and_bills_nothing() -> None:
    class Judging(Ports):
        def __init__(self) -> None:
            super().__init__()
            self.verdicts: list[tuple[int, str]] = []

        def judged(self, *, call_id: int, outcome: str) -> None:
            self.verdicts.append((call_id, outcome))

    def replaying(*, sink: Any, model: str, provider: str, **_: Any) -> BaseModel:
        usage = TokenUsage(1000, 50)
        sink(CallRecord(model, provider, usage, 5, "validation_error", 200, 41, replayed=True))
        sink(CallRecord(model, provider, usage, 5, "ok", 200, 42, replayed=True))
        return Out(x=1)

    ports = Judging()
    _call(ports, replaying)
    assert ports.verdicts == [(41, "validation_error")]
    assert ports.rows == {}  # no row opened: both answers were billed when recorded
    assert ports.settled == []  # and nothing was held: no call left
