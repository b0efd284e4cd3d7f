"""The OpenAI and Anthropic wire formats, driven through the real SDKs and instructor."""

from __future__ import annotations

from typing import Any

import anthropic
import instructor
import openai
import pytest

from scripts.simulator import BackgroundSimulator
from tests.unit.simulator.harness import (
    DOC,
    Contract,
    Invoice,
    anthropic_client,
    billed,
    openai_client,
    recorded,
    stats,
    user,
)


def test_openai_tools_mode_returns_schema_valid_answer(sim: BackgroundSimulator) -> None:
    client = instructor.from_openai(openai_client(sim), mode=instructor.Mode.TOOLS)
    invoice, raw = client.chat.completions.create_with_completion(
        model="gpt-5.6-luna", response_model=Invoice, messages=user(DOC), max_retries=0
    )
    assert isinstance(invoice, Invoice)
    choice = raw.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.tool_calls is not None
    assert choice.message.tool_calls[0].function.name == "Invoice"
    assert raw.object == "chat.completion"
    assert raw.model == "gpt-5.6-luna"
    words = set(DOC.replace(":", " ").replace(",", " ").split())
    assert set(invoice.vendor.split()) <= words  # strings come from the document
    assert raw.usage is not None
    assert raw.usage.prompt_tokens_details is not None
    assert raw.usage.prompt_tokens_details.cached_tokens == 0
    assert raw.usage.total_tokens == raw.usage.prompt_tokens + raw.usage.completion_tokens
    assert billed(sim, "gpt-5.6-luna") == {
        "input_tokens": raw.usage.prompt_tokens,
        "output_tokens": raw.usage.completion_tokens,
    }


def test_openai_json_schema_mode_returns_schema_valid_answer(sim: BackgroundSimulator) -> None:
    client = instructor.from_openai(openai_client(sim), mode=instructor.Mode.JSON_SCHEMA)
    contract, raw = client.chat.completions.create_with_completion(
        model="gpt-5.6-terra", response_model=Contract, messages=user(DOC), max_retries=0
    )
    assert isinstance(contract, Contract)
    assert 2 <= len(contract.parties) <= 4
    assert raw.choices[0].finish_reason == "stop"
    assert raw.choices[0].message.tool_calls is None
    sent = recorded(sim)[-1]["body"]
    assert sent["response_format"]["type"] == "json_schema"
    assert "tools" not in sent


def test_openai_usage_is_deterministic(sim: BackgroundSimulator) -> None:
    client = instructor.from_openai(openai_client(sim), mode=instructor.Mode.TOOLS)
    runs = [
        client.chat.completions.create_with_completion(
            model="gpt-5.6-luna", response_model=Invoice, messages=user(DOC), max_retries=0
        )
        for _ in range(2)
    ]
    (first, raw1), (second, raw2) = runs
    assert first.model_dump() == second.model_dump()
    assert raw1.usage == raw2.usage


def test_openai_reask_after_invalid_once_succeeds(sim: BackgroundSimulator) -> None:
    client = instructor.from_openai(openai_client(sim), mode=instructor.Mode.TOOLS)
    invoice = client.chat.completions.create(
        model="gpt-5.6-luna",
        response_model=Invoice,
        messages=user(DOC + " [[sim:invalid_once]]"),
        max_retries=1,
    )
    assert isinstance(invoice, Invoice)
    reask = recorded(sim)[-1]["body"]["messages"]
    assert [m["role"] for m in reask] == ["user", "assistant", "tool"]
    assert stats(sim)["by_model"]["gpt-5.6-luna"]["invalid"] == 1


def test_openai_strict_schema_is_checked_like_the_api(sim: BackgroundSimulator) -> None:
    loose: Any = {
        "type": "json_schema",
        "json_schema": {"name": "Invoice", "strict": True, "schema": Invoice.model_json_schema()},
    }
    with pytest.raises(openai.BadRequestError) as caught:
        openai_client(sim).chat.completions.create(
            model="gpt-5.6-terra", messages=user(DOC), response_format=loose
        )
    assert "'additionalProperties' is required to be supplied and to be false" in (
        caught.value.message
    )
    tool: Any = {
        "type": "function",
        "function": {"name": "Invoice", "strict": True, "parameters": Invoice.model_json_schema()},
    }
    with pytest.raises(openai.BadRequestError) as caught:
        openai_client(sim).chat.completions.create(
            model="gpt-5.6-terra", messages=user(DOC), tools=[tool]
        )
    assert caught.value.param == "tools[0].function.parameters"
    closed = {
        "type": "object",
        "additionalProperties": False,
        "required": ["a"],
        "properties": {"a": {"type": "string"}},
    }
    tool["function"]["parameters"] = closed
    raw = openai_client(sim).chat.completions.create(
        model="gpt-5.6-terra", messages=user(DOC), tools=[tool]
    )
    assert raw.choices[0].message.tool_calls is not None


def test_openai_rejects_tool_calls_without_tool_messages(sim: BackgroundSimulator) -> None:
    messages: list[Any] = [
        {"role": "user", "content": DOC},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "Invoice", "arguments": "{}"},
                }
            ],
        },
        {"role": "user", "content": "again"},
    ]
    with pytest.raises(openai.BadRequestError) as caught:
        openai_client(sim).chat.completions.create(model="gpt-5.6-terra", messages=messages)
    assert "call_1" in caught.value.message
    assert caught.value.type == "invalid_request_error"


def test_max_tokens_truncates_output(sim: BackgroundSimulator) -> None:
    raw = openai_client(sim).chat.completions.create(
        model="gpt-5.6-luna",
        messages=user(DOC),
        max_completion_tokens=5,
        response_format={
            "type": "json_schema",
            "json_schema": {"name": "Invoice", "schema": Invoice.model_json_schema()},
        },
    )
    assert raw.choices[0].finish_reason == "length"
    assert raw.usage is not None
    assert raw.usage.completion_tokens == 5


def test_json_modes_read_the_schema_from_the_prompt(sim: BackgroundSimulator) -> None:
    oa = instructor.from_openai(openai_client(sim), mode=instructor.Mode.JSON)
    assert isinstance(
        oa.chat.completions.create(
            model="gpt-5.6-luna",
            response_model=Invoice,
            messages=user(DOC),
            max_retries=0,
        ),
        Invoice,
    )
    an = instructor.from_anthropic(anthropic_client(sim), mode=instructor.Mode.JSON)
    contract, raw = an.messages.create_with_completion(
        model="claude-haiku-5-5",
        max_tokens=1024,
        response_model=Contract,
        messages=user(DOC),
        max_retries=0,
    )
    assert isinstance(contract, Contract)
    assert raw.content[0].type == "text"
    assert raw.stop_reason == "end_turn"


def test_anthropic_tool_use_returns_schema_valid_answer(sim: BackgroundSimulator) -> None:
    client = instructor.from_anthropic(anthropic_client(sim), mode=instructor.Mode.TOOLS)
    invoice, raw = client.messages.create_with_completion(
        model="claude-haiku-5-5",
        max_tokens=2048,
        response_model=Invoice,
        system="You extract invoices.",
        messages=user(DOC),
        max_retries=0,
    )
    assert isinstance(invoice, Invoice)
    assert raw.type == "message"
    assert raw.stop_reason == "tool_use"
    block = raw.content[0]
    assert block.type == "tool_use"
    assert block.name == "Invoice"
    assert block.id.startswith("toolu_")
    assert raw.usage.cache_read_input_tokens == 0
    assert billed(sim, "claude-haiku-5-5") == {
        "input_tokens": raw.usage.input_tokens,
        "output_tokens": raw.usage.output_tokens,
    }


def test_anthropic_reask_sends_tool_result_and_succeeds(sim: BackgroundSimulator) -> None:
    client = instructor.from_anthropic(anthropic_client(sim), mode=instructor.Mode.TOOLS)
    contract = client.messages.create(
        model="claude-sonnet-5-5",
        max_tokens=1024,
        response_model=Contract,
        messages=user(DOC + " [[sim:invalid_once]]"),
        max_retries=1,
    )
    assert isinstance(contract, Contract)
    first, reask = recorded(sim)[-2:]
    tool_use = reask["body"]["messages"][1]["content"][0]
    assert tool_use["type"] == "tool_use"
    result = reask["body"]["messages"][2]["content"][0]
    # instructor 1.17 answers the failed tool_use with an is_error tool_result, as the API needs.
    assert result["type"] == "tool_result"
    assert result["tool_use_id"] == tool_use["id"]
    assert result["is_error"] is True
    assert "Validation Error found" in result["content"]
    assert len(first["body"]["messages"]) == 1
    assert stats(sim)["by_model"]["claude-sonnet-5-5"]["invalid"] == 1


def test_anthropic_rejects_tool_use_without_tool_result(sim: BackgroundSimulator) -> None:
    messages: list[Any] = [
        {"role": "user", "content": DOC},
        {
            "role": "assistant",
            "content": [{"type": "tool_use", "id": "toolu_01abc", "name": "Invoice", "input": {}}],
        },
        {"role": "user", "content": "Validation Error found: fix the errors"},
    ]
    with pytest.raises(anthropic.BadRequestError) as caught:
        anthropic_client(sim).messages.create(
            model="claude-haiku-5-5",
            max_tokens=100,
            messages=messages,
            tools=[{"name": "Invoice", "input_schema": {"type": "object"}}],
        )
    body = caught.value.body
    assert isinstance(body, dict)
    assert body["type"] == "error"
    assert body["error"]["type"] == "invalid_request_error"
    assert body["error"]["message"].startswith(
        "messages.1: `tool_use` ids were found without `tool_result` blocks immediately "
        "after: toolu_01abc"
    )


def test_anthropic_count_tokens_matches_billed_input(sim: BackgroundSimulator) -> None:
    client = anthropic_client(sim)
    tools: Any = [{"name": "Invoice", "input_schema": Invoice.model_json_schema()}]
    counted = client.messages.count_tokens(
        model="claude-haiku-5-5", messages=user(DOC), tools=tools
    )
    billed = client.messages.create(
        model="claude-haiku-5-5", max_tokens=2048, messages=user(DOC), tools=tools
    )
    assert counted.input_tokens == billed.usage.input_tokens
