"""Every request's ledger row is opened before the request leaves (llm.extract's send gate)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx2
import openai
import pytest
from pydantic import BaseModel, field_validator

from schemas.config import Settings
from tasks.engine import llm
from tasks.engine.llm import CallRecord, Clients
from tasks.engine.tape import ReplayTransport
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
def provider(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """An OpenAI endpoint in memory: the first answer fails validation, later ones pass."""
    seen: list[dict[str, Any]] = []

    def handle(request: httpx2.Request) -> httpx2.Response:
        body = json.loads(request.content)
        seen.append(body)
        return httpx2.Response(200, json=tool_completion(body, {"x": 1 if len(seen) > 1 else -1}))

    real = openai.DefaultHttpxClient

    def client(**kwargs: Any) -> Any:
        # the mock stands in for the network, under the tape's replay transport
        return real(**{**kwargs, "transport": ReplayTransport(httpx2.MockTransport(handle))})

    monkeypatch.setattr(openai, "DefaultHttpxClient", client)
    return seen


def _extract(opener: llm.Opener, sink: Callable[[CallRecord], None]) -> BaseModel:
    settings = Settings(openai_base_url="http://provider.test/v1")
    return llm.extract(
        clients=Clients(settings),
        provider="openai",
        model="gpt-5.6-luna",
        messages=[{"role": "user", "content": "x?"}],
        response_model=Out,
        max_reasks=2,
        max_output_tokens=64,
        sink=sink,
        opener=opener,
    )


def test_each_request_and_re_ask_opens_its_own_ledger_row_before_it_is_sent(
    provider: list[dict[str, Any]],
) -> None:
    opened: list[int] = []

    def opener() -> int:
        opened.append(len(provider))  # how many requests had left when this row was opened
        return 100 + len(opened)

    records: list[CallRecord] = []
    answer = _extract(opener, records.append)
    assert isinstance(answer, Out)
    assert answer.x == 1
    assert opened == [0, 1]  # each row was written before its own request went out
    assert [(r.call_id, r.outcome) for r in records] == [(101, "validation_error"), (102, "ok")]


def test_a_ledger_that_refuses_the_row_means_the_request_is_never_sent(
    provider: list[dict[str, Any]],
) -> None:
    class Refused(Exception):
        pass

    def opener() -> int:
        raise Refused("postgres said no")

    records: list[CallRecord] = []
    with pytest.raises(Refused):
        _extract(opener, records.append)
    assert provider == []
    assert records == []
