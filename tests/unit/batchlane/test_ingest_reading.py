"""What the ingest reads off a result before its item is locked: usage, and the day's price."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import anthropic.types
import openai.types.chat
import pytest

from schemas.config import AppConfig, Price, load_config
from tasks.batchlane.ingest import Pricing, usage_in
from tasks.engine.cost import TokenUsage, call_cost
from tasks.engine.llm import usage_of

OPENAI_ANSWER: dict[str, Any] = {
    "id": "chatcmpl-1",
    "object": "chat.completion",
    "created": 1,
    "model": "gpt-5.6-luna",
    "choices": [
        {
            "index": 0,
            "message": {"role": "assistant", "content": "{}"},
            "logprobs": None,
            "finish_reason": "stop",
        }
    ],
    "usage": {
        "prompt_tokens": 900,
        "completion_tokens": 120,
        "total_tokens": 1020,
        "prompt_tokens_details": {"cached_tokens": 768, "audio_tokens": 0},
    },
}
ANTHROPIC_ANSWER: dict[str, Any] = {
    "id": "msg_1",
    "type": "message",
    "role": "assistant",
    "model": "claude-haiku-5-5",
    "content": [{"type": "text", "text": "{}"}],
    "stop_reason": "end_turn",
    "stop_sequence": None,
    "usage": {
        "input_tokens": 40,
        "output_tokens": 80,
        "cache_read_input_tokens": 512,
        "cache_creation_input_tokens": 256,
    },
}


def _config() -> AppConfig:
    return load_config(Path(__file__).parents[3] / "schemas" / "docqueue.toml")


@pytest.mark.parametrize(
    ("provider", "body", "sdk_type"),
    [
        ("openai", OPENAI_ANSWER, openai.types.chat.ChatCompletion),
        ("anthropic", ANTHROPIC_ANSWER, anthropic.types.Message),
    ],
)
def test_a_batch_answers_usage_is_read_as_the_realtime_lane_reads_the_sdk_answer(
    provider: str, body: dict[str, Any], sdk_type: Any
) -> None:
    read = usage_in(provider, body)
    assert read == usage_of(provider, sdk_type.model_validate(body))
    assert read.cached_tokens > 0
    if provider == "anthropic":  # cache reads and writes count as prompt tokens
        assert (read.input_tokens, read.cache_write_tokens) == (40 + 512 + 256, 256)


def test_an_answer_without_usage_or_with_an_unreadable_one_bills_no_tokens() -> None:
    assert usage_in("openai", None) == TokenUsage(0, 0, 0)
    assert usage_in("openai", {"id": "chatcmpl-1"}) == TokenUsage(0, 0, 0)
    assert usage_in("anthropic", {"usage": {"input_tokens": "many"}}) == TokenUsage(0, 0, 0)


def test_an_answer_whose_other_fields_are_broken_still_bills_the_usage_it_reports() -> None:
    body = {**OPENAI_ANSWER, "choices": "not a list"}  # the replay judges this, not the bill
    assert usage_in("openai", body) == TokenUsage(900, 120, 768)


def test_each_day_is_priced_at_the_batch_price_in_force_that_day_as_call_cost_prices_it() -> None:
    config = _config()
    model = config.models["claude-haiku-5-5"]
    first = model.batch_prices[0]
    later = Price(
        effective=first.effective + dt.timedelta(days=10),
        input_per_mtok=0.07,
        output_per_mtok=0.3,
        cached_input_per_mtok=0.007,
        cache_write_per_mtok=0.09,
    )
    config.models["claude-haiku-5-5"] = model.model_copy(
        update={"batch_prices": [later, first]}  # out of order: price_on sorts them
    )
    pricing = Pricing(config)
    usage = TokenUsage(1_000_000, 300_000, 200_000, 100_000)
    days = [first.effective - dt.timedelta(days=1), first.effective, later.effective]
    for day in [*days, *days]:  # the second pass is priced from the cache
        expected = call_cost(
            model=config.models["claude-haiku-5-5"], usage=usage, day=day, lane="batch"
        )
        assert pricing.cost("claude-haiku-5-5", day, usage) == expected
    assert pricing.cost("claude-haiku-5-5", later.effective, usage) != pricing.cost(
        "claude-haiku-5-5", first.effective, usage
    )
