"""A model built from a tenant schema, driven through instructor's own parsing and re-ask."""

from __future__ import annotations

import json
from typing import Any

import httpx2
import instructor
import openai
import pytest
from openai.types.chat import ChatCompletion
from pydantic import ValidationError

from schemas.config import Settings
from schemas.extractors.model import build_model
from tasks.engine import llm
from tasks.engine.llm import CallRecord, Clients, instructor_model
from tasks.engine.tape import ReplayTransport

SCHEMA = {
    "type": "object",
    "properties": {
        "invoice_number": {"type": "string", "pattern": "^INV-[0-9]+$"},
        "total": {"type": "number", "minimum": 0, "x-docqueue-merge": "first"},
    },
    "required": ["invoice_number", "total"],
}
MODEL = build_model(name="acme_invoice", description="ACME invoices.", schema=SCHEMA)
VALID = {"invoice_number": "INV-7", "total": 12.5}
INVALID = {"invoice_number": "INV-7", "total": -3}


def completion(tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
    """An OpenAI chat completion whose answer is one call of `tool`."""
    function = {"name": tool, "arguments": json.dumps(arguments)}
    message = {
        "role": "assistant",
        "content": None,
        "tool_calls": [{"id": "call_1", "type": "function", "function": function}],
    }
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 0,
        "model": "gpt-5.6-luna",
        "choices": [{"index": 0, "message": message, "finish_reason": "tool_calls"}],
        "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
    }


def parse(arguments: dict[str, Any]) -> Any:
    """Parse a tool call the way instructor does for Mode.TOOLS."""
    response = ChatCompletion.model_validate(completion("acme_invoice", arguments))
    return instructor_model(MODEL).from_response(response, mode=instructor.Mode.TOOLS)  # type: ignore[attr-defined]


def test_instructor_parses_a_valid_tool_call_into_the_answer() -> None:
    assert parse(VALID).model_dump(mode="json") == VALID


def test_instructor_raises_the_schema_violations_for_an_invalid_tool_call() -> None:
    with pytest.raises(ValidationError, match="/total: -3 is less than the minimum of 0"):
        parse(INVALID)


@pytest.fixture
def provider(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """An OpenAI endpoint in memory: the first answer breaks the schema, the next one fits."""
    seen: list[dict[str, Any]] = []

    def handle(request: httpx2.Request) -> httpx2.Response:
        body = json.loads(request.content)
        seen.append(body)
        tool = body["tools"][0]["function"]["name"]
        return httpx2.Response(200, json=completion(tool, INVALID if len(seen) == 1 else VALID))

    real = openai.DefaultHttpxClient

    def client(**kwargs: Any) -> Any:
        # the mock stands in for the network, under the tape's replay transport
        return real(**{**kwargs, "transport": ReplayTransport(httpx2.MockTransport(handle))})

    monkeypatch.setattr(openai, "DefaultHttpxClient", client)
    return seen


def test_the_re_ask_sends_the_validator_message_back_to_the_model(
    provider: list[dict[str, Any]],
) -> None:
    records: list[CallRecord] = []
    answer = llm.extract(
        clients=Clients(Settings(openai_base_url="http://provider.test/v1")),
        provider="openai",
        model="gpt-5.6-luna",
        messages=[{"role": "user", "content": "Extract the invoice."}],
        response_model=MODEL,
        max_reasks=1,
        max_output_tokens=64,
        sink=records.append,
    )
    assert answer.model_dump(mode="json") == VALID
    first, second = provider
    tool = first["tools"][0]["function"]
    assert tool["name"] == "acme_invoice"
    assert tool["parameters"]["properties"]["invoice_number"]["pattern"] == "^INV-[0-9]+$"
    assert "x-docqueue-" not in json.dumps(first)
    assert "/total: -3 is less than the minimum of 0" in json.dumps(second["messages"])
    assert [r.outcome for r in records] == ["validation_error", "ok"]
