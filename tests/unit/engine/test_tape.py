"""A job's tape: park the first new request, replay recorded answers, re-ask from them."""

from __future__ import annotations

import json
from typing import Any

import httpx2
import openai
import pytest
from pydantic import BaseModel, field_validator

from schemas.config import Settings
from tasks.engine import llm
from tasks.engine.llm import CallRecord, Clients
from tasks.engine.tape import Captured, Exchange, ReplayTransport, Tape, playing, request_sha
from tests.support.completions import tool_completion


class Out(BaseModel):
    x: int

    @field_validator("x")
    @classmethod
    def _positive(cls, value: int) -> int:
        if value <= 0:
            raise ValueError("x must be positive")
        return value


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    """The network: every request that really left, answered with x = 1."""
    seen: list[bytes] = []

    def handle(request: httpx2.Request) -> httpx2.Response:
        seen.append(request.content)
        return httpx2.Response(200, json=tool_completion(json.loads(request.content), {"x": 1}))

    real = openai.DefaultHttpxClient

    def client(**kwargs: Any) -> Any:
        return real(**{**kwargs, "transport": ReplayTransport(httpx2.MockTransport(handle))})

    monkeypatch.setattr(openai, "DefaultHttpxClient", client)
    return seen


def _extract(records: list[CallRecord], opened: list[int]) -> BaseModel:
    def opener() -> int:
        opened.append(len(opened) + 1)
        return len(opened)

    return llm.extract(
        clients=Clients(Settings(openai_base_url="http://provider.test/v1")),
        provider="openai",
        model="gpt-5.6-luna",
        messages=[{"role": "user", "content": "x?"}],
        response_model=Out,
        max_reasks=2,
        max_output_tokens=64,
        sink=records.append,
        opener=opener,
    )


def _capture(tape: Tape) -> Captured:
    with playing(tape), pytest.raises(Captured) as caught:
        _extract([], [])
    return caught.value


def test_park_mode_captures_the_exact_realtime_request_and_sends_nothing(sent: list[bytes]) -> None:
    captured = _capture(Tape([], park=True))
    assert sent == []
    _extract([], [])  # the same call on the realtime lane
    assert captured.body == json.loads(sent[0])
    assert captured.request_sha == request_sha(sent[0])
    assert captured.body["max_tokens"] == 64
    assert captured.seq == 0


def test_a_recorded_answer_is_replayed_without_a_call_a_ledger_row_or_a_bill(
    sent: list[bytes],
) -> None:
    first = _capture(Tape([], park=True))
    answer = Exchange(first.request_sha, 200, tool_completion(first.body, {"x": 7}))
    records: list[CallRecord] = []
    opened: list[int] = []
    with playing(Tape([answer], park=True)):
        parsed = _extract(records, opened)
    assert isinstance(parsed, Out)
    assert parsed.x == 7
    assert sent == []
    assert opened == []
    assert [r.replayed for r in records] == [True]


def test_an_invalid_recorded_answer_parks_instructors_re_ask_as_the_next_request(
    sent: list[bytes],
) -> None:
    first = _capture(Tape([], park=True))
    invalid = Exchange(first.request_sha, 200, tool_completion(first.body, {"x": -1}))
    reask = _capture(Tape([invalid], park=True))
    assert reask.seq == 1
    assert sent == []
    text = json.dumps(reask.body["messages"])
    assert "x must be positive" in text  # instructor's own re-ask message
    assert len(reask.body["messages"]) > len(first.body["messages"])


def test_live_mode_sends_what_the_tape_does_not_hold_and_bills_only_that(
    sent: list[bytes],
) -> None:
    first = _capture(Tape([], park=True))
    invalid = Exchange(first.request_sha, 200, tool_completion(first.body, {"x": -1}))
    records: list[CallRecord] = []
    opened: list[int] = []
    with playing(Tape([invalid], park=False)):
        parsed = _extract(records, opened)
    assert isinstance(parsed, Out)
    assert parsed.x == 1
    assert len(sent) == 1
    assert opened == [1]
    assert [r.replayed for r in records] == [True, False]


def test_a_changed_request_ignores_the_rest_of_the_tape(sent: list[bytes]) -> None:
    stale = Exchange("0" * 64, 200, {"unused": True})
    captured = _capture(Tape([stale], park=True))
    assert captured.seq == 0
    assert sent == []


def test_a_recorded_provider_error_raises_the_sdks_own_error(sent: list[bytes]) -> None:
    first = _capture(Tape([], park=True))
    error = Exchange(
        first.request_sha, 400, {"error": {"message": "bad", "type": "invalid_request_error"}}
    )
    with playing(Tape([error], park=True)), pytest.raises(openai.BadRequestError):
        _extract([], [])
    assert sent == []


def test_a_replayed_invalid_answer_names_the_row_it_was_billed_on_with_its_verdict(
    sent: list[bytes],
) -> None:
    first = _capture(Tape([], park=True))
    invalid = Exchange(first.request_sha, 200, tool_completion(first.body, {"x": -1}), 41)
    records: list[CallRecord] = []
    with playing(Tape([invalid], park=False)):
        _extract(records, [])
    assert [(r.replayed, r.call_id, r.outcome) for r in records] == [
        (True, 41, "validation_error"),
        (False, 1, "ok"),
    ]
