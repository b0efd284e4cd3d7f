"""The simulator honours the output cap as the real APIs do: cut, billed at the cap, flagged."""

from __future__ import annotations

from typing import Any

import anthropic
import openai
import pytest
from anthropic.types import ToolParam
from openai.types.chat import ChatCompletionNamedToolChoiceParam, ChatCompletionToolParam

from scripts.simulator import BackgroundSimulator
from tests.unit.simulator.harness import (
    DOC,
    Invoice,
    anthropic_client,
    billed,
    openai_client,
    user,
)

TOOL: ChatCompletionToolParam = {
    "type": "function",
    "function": {"name": "Invoice", "parameters": Invoice.model_json_schema()},
}
ANTHROPIC_TOOL: ToolParam = {"name": "Invoice", "input_schema": Invoice.model_json_schema()}
FORCE_TOOL: ChatCompletionNamedToolChoiceParam = {
    "type": "function",
    "function": {"name": "Invoice"},
}


@pytest.mark.parametrize("param", ["max_tokens", "max_completion_tokens"])
@pytest.mark.parametrize("limit", [1, 7, 40])
def test_an_openai_answer_over_the_cap_stops_at_it_with_finish_reason_length(
    sim: BackgroundSimulator, param: str, limit: int
) -> None:
    create: Any = openai_client(sim).chat.completions.create  # `param` varies: untyped
    raw = create(
        model="gpt-5.6-luna",
        messages=user(DOC),
        tools=[TOOL],
        tool_choice=FORCE_TOOL,
        **{param: limit},
    )
    assert raw.choices[0].finish_reason == "length"
    assert raw.usage is not None
    assert raw.usage.completion_tokens == limit
    assert billed(sim, "gpt-5.6-luna")["output_tokens"] == limit  # what the ledger would bill


def test_an_openai_answer_within_the_cap_is_whole_and_stops_normally(
    sim: BackgroundSimulator,
) -> None:
    raw = openai_client(sim).chat.completions.create(
        model="gpt-5.6-luna",
        messages=user(DOC),
        tools=[TOOL],
        tool_choice=FORCE_TOOL,
        max_tokens=4096,
    )
    assert raw.choices[0].finish_reason == "tool_calls"
    assert raw.usage is not None
    assert 0 < raw.usage.completion_tokens < 4096
    calls = raw.choices[0].message.tool_calls
    assert calls is not None
    assert calls[0].type == "function"
    Invoice.model_validate_json(calls[0].function.arguments)  # not cut: it parses


def test_an_openai_request_with_both_caps_stays_within_the_smaller(
    sim: BackgroundSimulator,
) -> None:
    raw = openai_client(sim).chat.completions.create(
        model="gpt-5.6-luna", messages=user(DOC), max_tokens=3, max_completion_tokens=50
    )
    assert raw.choices[0].finish_reason == "length"
    assert raw.usage is not None
    assert raw.usage.completion_tokens == 3


@pytest.mark.parametrize("limit", [0, -5])
def test_an_openai_cap_below_one_is_refused_like_the_api_does(
    sim: BackgroundSimulator, limit: int
) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        openai_client(sim).chat.completions.create(
            model="gpt-5.6-luna", messages=user(DOC), max_tokens=limit
        )
    assert "Expected a value >= 1" in caught.value.message
    assert billed(sim, "gpt-5.6-luna")["output_tokens"] == 0


@pytest.mark.parametrize("limit", [1, 7, 40])
def test_an_anthropic_answer_over_the_cap_stops_at_it_with_stop_reason_max_tokens(
    sim: BackgroundSimulator, limit: int
) -> None:
    message = anthropic_client(sim).messages.create(
        model="claude-haiku-5-5",
        max_tokens=limit,
        messages=user(DOC),
        tools=[ANTHROPIC_TOOL],
        tool_choice={"type": "tool", "name": "Invoice"},
    )
    assert message.stop_reason == "max_tokens"
    assert message.usage.output_tokens == limit
    assert billed(sim, "claude-haiku-5-5")["output_tokens"] == limit


def test_an_anthropic_text_answer_over_the_cap_is_cut(sim: BackgroundSimulator) -> None:
    whole = anthropic_client(sim).messages.create(
        model="claude-haiku-5-5", max_tokens=4096, messages=user(DOC)
    )
    cut = anthropic_client(sim).messages.create(
        model="claude-haiku-5-5", max_tokens=2, messages=user(DOC)
    )
    assert (whole.stop_reason, cut.stop_reason) == ("end_turn", "max_tokens")
    assert cut.usage.output_tokens == 2 < whole.usage.output_tokens
    whole_text, cut_text = (m.content[0] for m in (whole, cut))
    assert isinstance(whole_text, anthropic.types.TextBlock)
    assert isinstance(cut_text, anthropic.types.TextBlock)
    assert whole_text.text.startswith(cut_text.text)
    assert cut_text.text != whole_text.text
