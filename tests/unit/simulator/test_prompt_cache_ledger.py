"""llm.extract's requests are cacheable, and the ledger bills what the simulator reports cached."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest
from pydantic import BaseModel

from schemas.config import Settings
from scripts.simulator import BackgroundSimulator
from tasks.engine import llm
from tasks.engine.cost import TokenUsage, call_cost
from tasks.engine.llm import CallRecord, Clients
from tests.unit.simulator.harness import DOC, recorded, stats

SYSTEM = " ".join(f"Rule {i}: copy every figure exactly as printed." for i in range(130))
OTHER_DOC = "A receipt from Initech for staplers, toner and two boxes of paper."
MODELS = {"openai": "gpt-5.6-terra", "anthropic": "claude-sonnet-5-5"}  # priced in the TOML


class Summary(BaseModel):
    """What the calls extract."""

    title: str
    summary: str


@pytest.fixture(scope="module")
def clients(sim: BackgroundSimulator) -> Iterator[Clients]:
    """The engine's own pooled SDK clients, aimed at the simulator."""
    made = Clients(Settings(openai_base_url=sim.openai_base_url, anthropic_base_url=sim.base_url))
    yield made
    made.close()


def extract(
    clients: Clients, provider: str, doc: str, messages: list[dict[str, str]] | None = None
) -> CallRecord:
    """One llm.extract of `doc` behind the long system prompt; its single ledger record."""
    records: list[CallRecord] = []
    llm.extract(
        clients=clients,
        provider=provider,
        model=MODELS[provider],
        messages=messages
        or [{"role": "system", "content": SYSTEM}, {"role": "user", "content": doc}],
        response_model=Summary,
        max_reasks=0,
        max_output_tokens=512,
        sink=records.append,
    )
    assert len(records) == 1
    return records[0]


def last_body(sim: BackgroundSimulator) -> dict[str, Any]:
    """The request body the simulator received last."""
    return dict(recorded(sim)[-1]["body"])


def test_extract_sends_anthropic_the_system_prompt_as_one_block_marked_for_caching(
    sim: BackgroundSimulator, clients: Clients
) -> None:
    extract(clients, "anthropic", DOC)
    body = last_body(sim)
    mark = {"type": "ephemeral"}
    assert body["system"] == [{"type": "text", "text": SYSTEM, "cache_control": mark}]
    assert [m["role"] for m in body["messages"]] == ["user"]
    assert DOC in json.dumps(body["messages"])
    # Anthropic caches tools, then system: neither holds the document.
    assert DOC not in json.dumps([body["tools"], body["system"]])


def test_extract_sends_openai_the_system_prompt_first_and_the_document_after_it(
    sim: BackgroundSimulator, clients: Clients
) -> None:
    out_of_order = [{"role": "user", "content": DOC}, {"role": "system", "content": SYSTEM}]
    extract(clients, "openai", DOC, messages=out_of_order)
    body = last_body(sim)
    assert body["messages"][0] == {"role": "system", "content": SYSTEM}
    assert body["messages"][1]["role"] == "user"
    assert DOC in body["messages"][1]["content"]
    assert DOC not in json.dumps([body["tools"], body["messages"][0]])


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_extract_builds_the_same_request_twice_byte_for_byte(
    sim: BackgroundSimulator, clients: Clients, provider: str
) -> None:
    extract(clients, provider, DOC)
    first = json.dumps(last_body(sim))
    extract(clients, provider, DOC)
    assert json.dumps(last_body(sim)) == first  # the batch lane's tape matches by sha-256


def reported_cached(sim: BackgroundSimulator, provider: str, body: dict[str, Any]) -> int:
    """What the simulator reports cached for this request body, sent once more."""
    if provider == "openai":
        answer = httpx.post(f"{sim.openai_base_url}/chat/completions", json=body).json()
        return int(answer["usage"]["prompt_tokens_details"]["cached_tokens"])
    answer = httpx.post(f"{sim.base_url}/v1/messages", json=body).json()
    return int(answer["usage"]["cache_read_input_tokens"])


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_the_ledger_records_and_bills_the_cached_tokens_the_simulator_reports(
    sim: BackgroundSimulator, clients: Clients, provider: str
) -> None:
    first = extract(clients, provider, DOC)
    second = extract(clients, provider, OTHER_DOC)
    billed = stats(sim)["usage"][MODELS[provider]]["input_tokens"]
    assert first.usage.input_tokens + second.usage.input_tokens == billed  # nothing lost
    assert first.usage.cached_tokens == 0
    assert second.usage.cached_tokens >= 1024
    assert second.usage.cached_tokens == reported_cached(sim, provider, last_body(sim))

    day = dt.date(2026, 12, 1)
    model = Settings().app.models[MODELS[provider]]
    price = model.price_on(day)
    usage = second.usage
    expected = (
        Decimal(usage.input_tokens - usage.cached_tokens) * Decimal(str(price.input_per_mtok))
        + Decimal(usage.cached_tokens) * Decimal(str(price.cached_input_per_mtok))
        + Decimal(usage.output_tokens) * Decimal(str(price.output_per_mtok))
    ) / Decimal(1_000_000)
    cost = call_cost(model=model, usage=usage, day=day)
    assert cost == expected.quantize(Decimal("0.000001"))
    uncached = TokenUsage(usage.input_tokens, usage.output_tokens)
    assert cost < call_cost(model=model, usage=uncached, day=day)  # the cache saves money
