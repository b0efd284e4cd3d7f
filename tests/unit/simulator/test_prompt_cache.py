"""The simulator's prompt caches through the real SDKs: cached tokens for a repeated prefix."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from scripts.simulator import BackgroundSimulator
from scripts.simulator.tokens import schema_chars, tokens_for
from tests.unit.simulator.harness import DOC, Invoice, anthropic_client, configure, openai_client
from tests.unit.simulator.test_batch_anthropic import ended, results

# With the Invoice tool, about 1850 tokens: above the 1024-token minimum, below haiku's 2048.
LONG = " ".join(f"Rule {i}: copy every figure exactly as printed." for i in range(130))
SHORT = "You extract invoices."  # with the tool, well below any minimum
OTHER_DOC = "A receipt from Initech for staplers, toner and two boxes of paper."
SONNET, HAIKU, GPT = "claude-sim-sonnet", "claude-sim-haiku", "gpt-5.6-luna"

OPENAI_TOOL: dict[str, Any] = {
    "type": "function",
    "function": {"name": "Invoice", "parameters": Invoice.model_json_schema()},
}
ANTHROPIC_TOOL: dict[str, Any] = {"name": "Invoice", "input_schema": Invoice.model_json_schema()}


def chat(sim: BackgroundSimulator, system: str, doc: str, model: str = GPT) -> Any:
    """One chat.completions call through the OpenAI SDK: a system prompt, then the document."""
    request: dict[str, Any] = {
        "model": model,
        "messages": [{"role": "system", "content": system}, {"role": "user", "content": doc}],
        "tools": [OPENAI_TOOL],
        "tool_choice": {"type": "function", "function": {"name": "Invoice"}},
    }
    return openai_client(sim).chat.completions.create(**request)


def openai_prefix(system: str) -> int:
    """The tokens of the OpenAI prefix: the tool and the system message."""
    return tokens_for(len(system), schema_chars(OPENAI_TOOL))


def params(system: str, doc: str, model: str = SONNET, *, mark: bool = True) -> dict[str, Any]:
    """A /v1/messages request whose system block is (or is not) marked for caching."""
    block: dict[str, Any] = {"type": "text", "text": system}
    if mark:
        block["cache_control"] = {"type": "ephemeral"}
    return {
        "model": model,
        "max_tokens": 2048,
        "system": [block],
        "messages": [{"role": "user", "content": doc}],
        "tools": [ANTHROPIC_TOOL],
        "tool_choice": {"type": "tool", "name": "Invoice"},
    }


def message(sim: BackgroundSimulator, system: str, doc: str, **kw: Any) -> Any:
    """One /v1/messages call through the Anthropic SDK."""
    return anthropic_client(sim).messages.create(**params(system, doc, **kw))


def reset(sim: BackgroundSimulator) -> None:
    """POST /sim/reset."""
    httpx.post(f"{sim.base_url}/sim/reset").raise_for_status()


def test_openai_reports_the_shared_prefix_as_cached_from_the_second_call_on(
    sim: BackgroundSimulator,
) -> None:
    first = chat(sim, LONG, DOC)
    second = chat(sim, LONG, OTHER_DOC)  # another document behind the same instructions
    assert first.usage.prompt_tokens_details.cached_tokens == 0
    cached = second.usage.prompt_tokens_details
    prefix = openai_prefix(LONG)
    assert prefix >= 1024
    assert cached.cached_tokens == prefix - prefix % 128  # OpenAI's 128-token increments
    assert cached.cached_tokens % 128 == 0
    assert cached.cached_tokens < second.usage.prompt_tokens  # prompt_tokens still counts all


def test_openai_never_caches_a_prefix_below_1024_tokens(sim: BackgroundSimulator) -> None:
    assert openai_prefix(SHORT) < 1024
    for doc in (DOC, DOC, OTHER_DOC):
        details = chat(sim, SHORT, doc).usage.prompt_tokens_details
        assert details.cached_tokens == 0


def test_openai_cache_is_per_model_and_per_prefix(sim: BackgroundSimulator) -> None:
    chat(sim, LONG, DOC)
    other_model = chat(sim, LONG, DOC, model="gpt-5.6-terra")
    assert other_model.usage.prompt_tokens_details.cached_tokens == 0
    changed = LONG.replace("Rule 0", "Rule zero")
    assert chat(sim, changed, DOC).usage.prompt_tokens_details.cached_tokens == 0


def test_openai_cache_is_cleared_by_sim_reset(sim: BackgroundSimulator) -> None:
    chat(sim, LONG, DOC)
    assert chat(sim, LONG, DOC).usage.prompt_tokens_details.cached_tokens > 0
    reset(sim)
    assert chat(sim, LONG, DOC).usage.prompt_tokens_details.cached_tokens == 0


def test_anthropic_writes_a_marked_prefix_first_then_reads_it(sim: BackgroundSimulator) -> None:
    total = anthropic_client(sim).messages.count_tokens(
        **{k: v for k, v in params(LONG, DOC).items() if k != "max_tokens"}
    )
    first = message(sim, LONG, DOC)
    second = message(sim, LONG, DOC)
    prefix = tokens_for(len(LONG), schema_chars(ANTHROPIC_TOOL))  # tools, then system
    assert prefix >= 1024
    assert first.usage.cache_creation_input_tokens == prefix
    assert first.usage.cache_read_input_tokens == 0
    assert second.usage.cache_read_input_tokens == prefix
    assert second.usage.cache_creation_input_tokens == 0
    for usage in (first.usage, second.usage):
        assert usage.input_tokens == total.input_tokens - prefix  # only what follows the prefix
    third = message(sim, LONG, OTHER_DOC)  # the prefix is the same for another document
    assert third.usage.cache_read_input_tokens == prefix


def test_anthropic_caches_nothing_without_cache_control(sim: BackgroundSimulator) -> None:
    for _ in range(2):
        usage = message(sim, LONG, DOC, mark=False).usage
        assert usage.cache_read_input_tokens == 0
        assert usage.cache_creation_input_tokens == 0


@pytest.mark.parametrize(
    ("model", "system"), [(SONNET, SHORT), (HAIKU, LONG)], ids=["below-1024", "haiku-below-2048"]
)
def test_anthropic_never_caches_a_marked_prefix_below_the_models_minimum(
    sim: BackgroundSimulator, model: str, system: str
) -> None:
    for _ in range(2):
        usage = message(sim, system, DOC, model=model).usage
        assert usage.cache_read_input_tokens == 0
        assert usage.cache_creation_input_tokens == 0


def test_anthropic_haiku_caches_a_marked_prefix_of_2048_tokens_or_more(
    sim: BackgroundSimulator,
) -> None:
    longer = f"{LONG} {LONG}"
    prefix = tokens_for(len(longer), schema_chars(ANTHROPIC_TOOL))
    assert prefix >= 2048
    assert message(sim, longer, DOC, model=HAIKU).usage.cache_creation_input_tokens == prefix
    assert message(sim, longer, DOC, model=HAIKU).usage.cache_read_input_tokens == prefix


def test_anthropic_cache_is_cleared_by_sim_reset(sim: BackgroundSimulator) -> None:
    message(sim, LONG, DOC)
    assert message(sim, LONG, DOC).usage.cache_read_input_tokens > 0
    reset(sim)
    usage = message(sim, LONG, DOC).usage
    assert usage.cache_read_input_tokens == 0
    assert usage.cache_creation_input_tokens > 0


def test_the_simulators_input_tokens_count_cached_ones_as_the_ledger_does(
    sim: BackgroundSimulator,
) -> None:
    answers = [message(sim, LONG, doc) for doc in (DOC, OTHER_DOC, DOC)]
    ledger = sum(
        a.usage.input_tokens + a.usage.cache_read_input_tokens + a.usage.cache_creation_input_tokens
        for a in answers
    )
    billed = httpx.get(f"{sim.base_url}/sim/stats").json()["usage"][SONNET]
    assert billed["input_tokens"] == ledger
    assert sum(a.usage.cache_read_input_tokens for a in answers) > 0


def test_batch_answers_get_the_same_cache_usage_as_realtime_ones(
    sim: BackgroundSimulator,
) -> None:
    configure(sim, batch_delay_s=0.2)
    client = anthropic_client(sim)
    requests: list[Any] = [
        {"custom_id": c, "params": params(LONG, doc)} for c, doc in (("a", DOC), ("b", OTHER_DOC))
    ]
    batch = client.messages.batches.create(requests=requests)
    ended(client, batch.id)
    got = results(client, batch.id)
    usages = [got[c].message.usage for c in ("a", "b")]
    prefix = tokens_for(len(LONG), schema_chars(ANTHROPIC_TOOL))
    assert sorted(u.cache_creation_input_tokens for u in usages) == [0, prefix]
    assert sorted(u.cache_read_input_tokens for u in usages) == [0, prefix]
    realtime = message(sim, LONG, DOC).usage  # the batch wrote the prefix: realtime reads it
    assert realtime.cache_read_input_tokens == prefix
