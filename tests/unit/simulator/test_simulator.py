"""The provider simulator, driven through the real OpenAI/Anthropic SDKs and instructor."""

from __future__ import annotations

import asyncio
import datetime as dt
import decimal
import json
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from typing import Any, Literal

import anthropic
import httpx
import instructor
import openai
import pytest
from instructor.core import InstructorRetryException
from pydantic import BaseModel, Field, model_validator

from scripts.simulator import BackgroundSimulator, SimState
from scripts.simulator.answers import build_answer, make_invalid
from scripts.simulator.faults import parse_directives
from tests.support.paths import REPO

ROOT = REPO
DOC = (
    "INVOICE 2291 from Acme Widgets Corporation to Globex Industries for consulting "
    "services rendered in March: design review, integration testing and training."
)


class LineItem(BaseModel):
    """One invoice line."""

    description: str = Field(min_length=1)
    quantity: int = Field(gt=0)
    unit_price: float = Field(ge=0)
    amount: float


class Invoice(BaseModel):
    """An invoice whose numbers must add up and whose dates must be in order."""

    vendor: str = Field(min_length=1)
    vendor_email: str | None = None
    status: Literal["paid", "open", "overdue"]
    issue_date: dt.date
    due_date: dt.date
    line_items: list[LineItem] = Field(min_length=1, max_length=5)
    subtotal: float
    tax: float = Field(ge=0)
    total: float

    @model_validator(mode="after")
    def numbers_add_up(self) -> Invoice:
        """Amounts are quantity x price, they sum to the subtotal, subtotal + tax = total."""
        if self.issue_date > self.due_date:
            raise ValueError("issue_date is after due_date")
        for item in self.line_items:
            if abs(item.amount - round(item.quantity * item.unit_price, 2)) > 0.005:
                raise ValueError("amount != quantity * unit_price")
        if abs(sum(i.amount for i in self.line_items) - self.subtotal) > 0.01:
            raise ValueError("line items do not sum to the subtotal")
        if abs(self.subtotal + self.tax - self.total) > 0.01:
            raise ValueError("subtotal + tax != total")
        return self


class Party(BaseModel):
    """A contract party."""

    name: str
    role: Literal["buyer", "seller"]


class Contract(BaseModel):
    """A contract with nested models, optional fields and ordered dates."""

    title: str
    parties: list[Party] = Field(min_length=2, max_length=4)
    effective_date: dt.date
    termination_date: dt.date
    renewal_months: int | None = Field(default=None, ge=1, le=24)
    auto_renew: bool

    @model_validator(mode="after")
    def dates_in_order(self) -> Contract:
        """The contract ends after it starts."""
        if self.effective_date > self.termination_date:
            raise ValueError("termination before effective date")
        return self


@pytest.fixture(scope="module")
def sim() -> Iterator[BackgroundSimulator]:
    """One simulator for the module, on a free loopback port."""
    with BackgroundSimulator(SimState(record_requests=20)) as server:
        yield server


@pytest.fixture(autouse=True)
def _reset(sim: BackgroundSimulator) -> None:
    httpx.post(f"{sim.base_url}/sim/reset").raise_for_status()


def configure(sim: BackgroundSimulator, **changes: Any) -> dict[str, Any]:
    """POST /sim/config and return the new state."""
    response = httpx.post(f"{sim.base_url}/sim/config", json=changes)
    response.raise_for_status()
    return dict(response.json())


def stats(sim: BackgroundSimulator) -> dict[str, Any]:
    """GET /sim/stats."""
    return dict(httpx.get(f"{sim.base_url}/sim/stats").json())


def recorded(sim: BackgroundSimulator) -> list[dict[str, Any]]:
    """The request bodies the simulator kept, oldest first."""
    return list(httpx.get(f"{sim.base_url}/sim/requests").json())


def openai_client(sim: BackgroundSimulator, **kw: Any) -> openai.OpenAI:
    """The real OpenAI SDK pointed at the simulator, no SDK retries."""
    return openai.OpenAI(base_url=sim.openai_base_url, api_key="sk-sim", max_retries=0, **kw)


def anthropic_client(sim: BackgroundSimulator, **kw: Any) -> anthropic.Anthropic:
    """The real Anthropic SDK pointed at the simulator, no SDK retries."""
    return anthropic.Anthropic(base_url=sim.base_url, api_key="sk-sim", max_retries=0, **kw)


def user(text: str) -> list[Any]:
    """A one-message conversation."""
    return [{"role": "user", "content": text}]


def test_openai_tools_mode_returns_schema_valid_answer(sim: BackgroundSimulator) -> None:
    client = instructor.from_openai(openai_client(sim), mode=instructor.Mode.TOOLS)
    invoice, raw = client.chat.completions.create_with_completion(
        model="gpt-4.1-mini", response_model=Invoice, messages=user(DOC), max_retries=0
    )
    assert isinstance(invoice, Invoice)
    choice = raw.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.tool_calls is not None
    assert choice.message.tool_calls[0].function.name == "Invoice"
    assert raw.object == "chat.completion"
    assert raw.model == "gpt-4.1-mini"
    words = set(DOC.replace(":", " ").replace(",", " ").split())
    assert set(invoice.vendor.split()) <= words  # strings come from the document
    assert raw.usage is not None
    assert raw.usage.prompt_tokens_details is not None
    assert raw.usage.prompt_tokens_details.cached_tokens == 0
    assert raw.usage.total_tokens == raw.usage.prompt_tokens + raw.usage.completion_tokens
    usage = stats(sim)["usage"]["gpt-4.1-mini"]
    assert usage == {
        "input_tokens": raw.usage.prompt_tokens,
        "output_tokens": raw.usage.completion_tokens,
    }


def test_openai_json_schema_mode_returns_schema_valid_answer(sim: BackgroundSimulator) -> None:
    client = instructor.from_openai(openai_client(sim), mode=instructor.Mode.JSON_SCHEMA)
    contract, raw = client.chat.completions.create_with_completion(
        model="gpt-4.1", response_model=Contract, messages=user(DOC), max_retries=0
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
            model="gpt-4.1-mini", response_model=Invoice, messages=user(DOC), max_retries=0
        )
        for _ in range(2)
    ]
    (first, raw1), (second, raw2) = runs
    assert first.model_dump() == second.model_dump()
    assert raw1.usage == raw2.usage


def test_openai_reask_after_invalid_once_succeeds(sim: BackgroundSimulator) -> None:
    client = instructor.from_openai(openai_client(sim), mode=instructor.Mode.TOOLS)
    invoice = client.chat.completions.create(
        model="gpt-4.1-mini",
        response_model=Invoice,
        messages=user(DOC + " [[sim:invalid_once]]"),
        max_retries=1,
    )
    assert isinstance(invoice, Invoice)
    reask = recorded(sim)[-1]["body"]["messages"]
    assert [m["role"] for m in reask] == ["user", "assistant", "tool"]
    assert stats(sim)["by_model"]["gpt-4.1-mini"]["invalid"] == 1


def test_json_modes_read_the_schema_from_the_prompt(sim: BackgroundSimulator) -> None:
    oa = instructor.from_openai(openai_client(sim), mode=instructor.Mode.JSON)
    assert isinstance(
        oa.chat.completions.create(
            model="gpt-4.1-mini",
            response_model=Invoice,
            messages=user(DOC),
            max_retries=0,
        ),
        Invoice,
    )
    an = instructor.from_anthropic(anthropic_client(sim), mode=instructor.Mode.JSON)
    contract, raw = an.messages.create_with_completion(
        model="claude-haiku-4-5",
        max_tokens=1024,
        response_model=Contract,
        messages=user(DOC),
        max_retries=0,
    )
    assert isinstance(contract, Contract)
    assert raw.content[0].type == "text"
    assert raw.stop_reason == "end_turn"


def test_openai_strict_schema_is_checked_like_the_api(sim: BackgroundSimulator) -> None:
    loose: Any = {
        "type": "json_schema",
        "json_schema": {"name": "Invoice", "strict": True, "schema": Invoice.model_json_schema()},
    }
    with pytest.raises(openai.BadRequestError) as caught:
        openai_client(sim).chat.completions.create(
            model="gpt-4.1", messages=user(DOC), response_format=loose
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
            model="gpt-4.1", messages=user(DOC), tools=[tool]
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
        model="gpt-4.1", messages=user(DOC), tools=[tool]
    )
    assert raw.choices[0].message.tool_calls is not None


def test_anthropic_tool_use_returns_schema_valid_answer(sim: BackgroundSimulator) -> None:
    client = instructor.from_anthropic(anthropic_client(sim), mode=instructor.Mode.TOOLS)
    invoice, raw = client.messages.create_with_completion(
        model="claude-haiku-4-5",
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
    usage = stats(sim)["usage"]["claude-haiku-4-5"]
    assert usage == {
        "input_tokens": raw.usage.input_tokens,
        "output_tokens": raw.usage.output_tokens,
    }


def test_anthropic_reask_sends_tool_result_and_succeeds(sim: BackgroundSimulator) -> None:
    client = instructor.from_anthropic(anthropic_client(sim), mode=instructor.Mode.TOOLS)
    contract = client.messages.create(
        model="claude-sonnet-4-5",
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
    assert stats(sim)["by_model"]["claude-sonnet-4-5"]["invalid"] == 1


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
            model="claude-haiku-4-5",
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
        openai_client(sim).chat.completions.create(model="gpt-4.1", messages=messages)
    assert "call_1" in caught.value.message
    assert caught.value.type == "invalid_request_error"


def test_fault_injection_429_carries_retry_after(sim: BackgroundSimulator) -> None:
    configure(sim, fault_rate=1.0, fault_statuses=[429])
    with pytest.raises(openai.RateLimitError) as oa:
        openai_client(sim).chat.completions.create(model="gpt-4.1-mini", messages=user(DOC))
    headers = oa.value.response.headers
    assert 50 <= int(headers["retry-after-ms"]) <= 200
    assert headers["retry-after"] == "0"
    assert oa.value.code == "rate_limit_exceeded"
    with pytest.raises(anthropic.RateLimitError) as an:
        anthropic_client(sim).messages.create(
            model="claude-haiku-4-5", max_tokens=10, messages=user(DOC)
        )
    assert "retry-after-ms" in an.value.response.headers
    assert isinstance(an.value.body, dict)
    assert an.value.body["error"]["type"] == "rate_limit_error"
    counters = stats(sim)["by_model"]
    assert counters["gpt-4.1-mini"]["faults"] == 1
    assert counters["claude-haiku-4-5"]["by_status"] == {"429": 1}


def test_anthropic_529_is_overloaded_error(sim: BackgroundSimulator) -> None:
    configure(sim, status_models={"claude-sonnet-4-5": 529})
    with pytest.raises(anthropic.OverloadedError) as caught:
        anthropic_client(sim).messages.create(
            model="claude-sonnet-4-5", max_tokens=10, messages=user(DOC)
        )
    assert isinstance(caught.value.body, dict)
    assert caught.value.body["error"]["type"] == "overloaded_error"
    # Other models are untouched.
    anthropic_client(sim).messages.create(
        model="claude-haiku-4-5", max_tokens=10, messages=user(DOC)
    )


def test_down_models_answer_503_and_status_directive(sim: BackgroundSimulator) -> None:
    configure(sim, down_models=["gpt-4.1"])
    with pytest.raises(openai.InternalServerError) as caught:
        openai_client(sim).chat.completions.create(model="gpt-4.1", messages=user(DOC))
    assert caught.value.status_code == 503
    with pytest.raises(openai.BadRequestError):
        openai_client(sim).chat.completions.create(
            model="gpt-4.1-mini", messages=user(DOC + " [[sim:status=400]]")
        )
    assert stats(sim)["by_model"]["gpt-4.1-mini"]["by_status"] == {"400": 1}


def test_fail_times_directive_fails_then_recovers(sim: BackgroundSimulator) -> None:
    client = anthropic_client(sim)
    doc = user(DOC + " [[sim:fail_times=2]] [[sim:status=529]]")
    for _ in range(2):
        with pytest.raises(anthropic.OverloadedError):
            client.messages.create(model="claude-haiku-4-5", max_tokens=100, messages=doc)
    client.messages.create(model="claude-haiku-4-5", max_tokens=100, messages=doc)
    assert stats(sim)["by_model"]["claude-haiku-4-5"]["by_status"] == {"529": 2, "200": 1}


def test_document_directive_makes_answers_fail_validation(sim: BackgroundSimulator) -> None:
    client = instructor.from_openai(openai_client(sim), mode=instructor.Mode.TOOLS)
    with pytest.raises(InstructorRetryException):
        client.chat.completions.create(
            model="gpt-4.1-mini",
            response_model=Invoice,
            messages=user(DOC + " [[sim:invalid]]"),
            max_retries=2,
        )
    counters = stats(sim)["by_model"]["gpt-4.1-mini"]
    assert counters["invalid"] == 3
    assert counters["ok"] == 3  # well-formed answers: only validation rejects them


def test_invalid_rate_breaks_answers(sim: BackgroundSimulator) -> None:
    configure(sim, invalid_rate=1.0)
    client = instructor.from_anthropic(anthropic_client(sim))
    with pytest.raises(InstructorRetryException):
        client.messages.create(
            model="claude-haiku-4-5",
            max_tokens=1024,
            response_model=Invoice,
            messages=user(DOC),
            max_retries=0,
        )


def test_max_tokens_truncates_output(sim: BackgroundSimulator) -> None:
    raw = openai_client(sim).chat.completions.create(
        model="gpt-4.1-mini",
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


def test_inflight_counter_tracks_concurrency(sim: BackgroundSimulator) -> None:
    configure(sim, latency_ms=400)
    started = time.time()

    async def burst() -> None:
        client = openai.AsyncOpenAI(base_url=sim.openai_base_url, api_key="x", max_retries=0)
        calls = [
            client.chat.completions.create(model="gpt-4.1-mini", messages=user(DOC))
            for _ in range(20)
        ]
        async with client:
            await asyncio.gather(*calls)

    asyncio.run(burst())
    time.sleep(0.15)  # let the sampler record the idle state after the burst
    snapshot = stats(sim)
    assert snapshot["in_flight"] == 0
    assert snapshot["max_in_flight"] == 20
    assert snapshot["by_model"]["gpt-4.1-mini"]["max_in_flight"] == 20
    assert snapshot["by_model"]["gpt-4.1-mini"]["in_flight"] == 0
    samples = [n for t, n in snapshot["inflight_samples"] if t >= started]
    assert max(samples) >= 15
    assert samples[-1] == 0


def test_latency_directive_and_timeout_hang(sim: BackgroundSimulator) -> None:
    start = time.monotonic()
    openai_client(sim).chat.completions.create(
        model="gpt-4.1-mini", messages=user(DOC + " [[sim:latency_ms=300]]")
    )
    assert time.monotonic() - start >= 0.3
    configure(sim, timeout_rate=1.0)
    with pytest.raises(openai.APITimeoutError):
        openai_client(sim, timeout=0.3).chat.completions.create(
            model="gpt-4.1-mini", messages=user(DOC)
        )
    configure(sim, timeout_rate=0.0)
    with pytest.raises(anthropic.APITimeoutError):
        anthropic_client(sim, timeout=0.3).messages.create(
            model="claude-haiku-4-5", max_tokens=10, messages=user(DOC + " [[sim:timeout]]")
        )
    deadline = time.monotonic() + 5
    while stats(sim)["in_flight"] and time.monotonic() < deadline:
        time.sleep(0.05)  # the hang ends when the server sees the client go away
    for model in ("gpt-4.1-mini", "claude-haiku-4-5"):
        counters = stats(sim)["by_model"][model]
        assert counters["timeouts"] == 1
        assert counters["disconnects"] == 1
    assert stats(sim)["in_flight"] == 0


def test_config_validation_and_reset(sim: BackgroundSimulator) -> None:
    bad = httpx.post(f"{sim.base_url}/sim/config", json={"fault_rate": 2})
    assert bad.status_code == 400
    unknown = httpx.post(f"{sim.base_url}/sim/config", json={"nope": 1})
    assert unknown.status_code == 400
    assert configure(sim, latency_ms=5, down_models=["x"])["down_models"] == ["x"]
    state = httpx.post(f"{sim.base_url}/sim/reset").json()
    assert state["down_models"] == []
    assert state["latency_ms"] == 0
    assert state["record_requests"] == 20  # reset restores the app's initial state


def test_answers_cover_schema_keywords() -> None:
    schema: dict[str, Any] = {
        "$defs": {"Kind": {"enum": ["a", "b"], "type": "string"}},
        "type": "object",
        "properties": {
            "kind": {"$ref": "#/$defs/Kind"},
            "maybe": {"anyOf": [{"type": "integer", "minimum": 5, "maximum": 7}, {"type": "null"}]},
            "tags": {"type": "array", "items": {"type": "string"}, "minItems": 4, "maxItems": 6},
            "email": {"type": "string", "format": "email"},
            "start_date": {"type": "string", "format": "date"},
            "end_date": {"type": "string", "format": "date"},
            "ratio": {"type": "number", "exclusiveMinimum": 0, "maximum": 1},
            "flag": {"type": "boolean"},
        },
        "required": ["kind", "tags"],
    }
    for seed in range(20):
        answer = build_answer(schema, DOC, seed)
        assert answer["kind"] in ("a", "b")
        assert 5 <= answer["maybe"] <= 7
        assert 4 <= len(answer["tags"]) <= 6
        assert all(answer["tags"])
        assert "@" in answer["email"]
        assert answer["start_date"] <= answer["end_date"]
        dt.date.fromisoformat(answer["end_date"])
        assert 0 < answer["ratio"] <= 1
        broken = make_invalid(answer, schema)
        assert "kind" not in broken


class Node(BaseModel):
    """A recursive model."""

    name: str
    children: list[Node] = []


class KitchenSink(BaseModel):
    """Many schema shapes at once: every generated answer must validate."""

    price: decimal.Decimal
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    zip_code: str = Field(pattern=r"^\d{5}(-\d{4})?$", max_length=10)
    color: Literal["red", "blue"] | None
    when: dt.datetime
    uid: uuid.UUID
    tags: set[str]
    pair: tuple[int, str]
    counts: dict[str, int]
    tree: Node
    negative: int = Field(lt=0)
    fraction: float = Field(gt=0, lt=1)
    step: int = Field(multiple_of=5, ge=10, le=100)
    words: list[str] = Field(min_length=5, max_length=7)


def test_answers_validate_for_many_schema_shapes() -> None:
    schema = KitchenSink.model_json_schema()
    for seed in range(50):
        answer = build_answer(schema, DOC, seed)
        KitchenSink.model_validate(answer)
        with pytest.raises(ValueError, match="validation error"):
            KitchenSink.model_validate(make_invalid(answer, schema))


class Obligation(BaseModel):
    """Who must do what: `party` must name one of the agreement's parties."""

    party: str
    description: str


class Agreement(BaseModel):
    """References between lists and ISO codes, checked by validators, not by the schema."""

    parties: list[Party] = Field(min_length=1)
    obligations: list[Obligation]
    currency: str = Field(description="ISO 4217 currency code, e.g. USD")
    language: str | None = Field(default=None, description="ISO 639-1 language code")

    @model_validator(mode="after")
    def links_and_codes(self) -> Agreement:
        """Obligations name known parties; codes have their ISO shapes."""
        names = {p.name for p in self.parties}
        if any(o.party not in names for o in self.obligations):
            raise ValueError("obligation names an unknown party")
        if len(self.currency) != 3 or not self.currency.isupper():
            raise ValueError("currency is not an ISO 4217 code")
        if self.language is not None and len(self.language) != 2:
            raise ValueError("language is not an ISO 639-1 code")
        return self


def test_answers_satisfy_reference_and_code_rules() -> None:
    schema = Agreement.model_json_schema()
    for seed in range(30):
        answer = build_answer(schema, DOC + " Amounts in EUR.", seed)
        agreement = Agreement.model_validate(answer)
        assert agreement.currency == "EUR"  # taken from the document when it names one
        assert agreement.language == "en"


def test_directive_parsing() -> None:
    found = parse_directives("x [[sim:invalid_once]] [[sim:status=529]] [[sim:latency_ms=50]]")
    assert found.invalid_once
    assert not found.invalid
    assert found.status == 529
    assert found.latency_ms == 50


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _keepalive_load(port: int, request: bytes, total: int, connections: int) -> float:
    """Send `total` requests over `connections` keep-alive sockets; return requests per second.

    A bare asyncio HTTP/1.1 client: an SDK or httpx client costs more CPU per request than
    the simulator does, and would measure itself instead of the server.
    """
    pending = iter(range(total))

    async def connection() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            for _ in pending:
                writer.write(request)
                await writer.drain()
                head = await reader.readuntil(b"\r\n\r\n")
                assert head.split(b" ", 2)[1] == b"200"
                length = next(
                    int(line.split(b":")[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length:")
                )
                await reader.readexactly(length)
        finally:
            writer.close()

    start = time.perf_counter()
    await asyncio.gather(*(connection() for _ in range(connections)))
    return total / (time.perf_counter() - start)


def test_cli_serves_and_sustains_300_rps() -> None:
    """`python -m scripts.simulator` at 200 ms latency: >= 300 req/s with 100 in flight."""
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "scripts.simulator", "--port", str(port), "--latency-ms", "200"],
        cwd=ROOT,
    )
    base = f"http://127.0.0.1:{port}"
    body = json.dumps(
        {
            "model": "gpt-4.1-mini",
            "messages": user(DOC * 20),
            "response_format": {
                "type": "json_schema",
                "json_schema": {"name": "Invoice", "schema": Invoice.model_json_schema()},
            },
        }
    ).encode()
    request = (
        b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Content-Type: application/json\r\nContent-Length: "
        + str(len(body)).encode()
        + b"\r\n\r\n"
        + body
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                httpx.get(f"{base}/sim/health").raise_for_status()
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "simulator did not start"
                time.sleep(0.1)
        rate = asyncio.run(_keepalive_load(port, request, 1500, 100))
        assert rate >= 300, f"only {rate:.0f} req/s"
        snapshot = httpx.get(f"{base}/sim/stats?samples=0").json()
        assert snapshot["max_in_flight"] >= 90
        assert snapshot["by_model"]["gpt-4.1-mini"]["ok"] == 1500
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_anthropic_count_tokens_matches_billed_input(sim: BackgroundSimulator) -> None:
    client = anthropic_client(sim)
    tools: Any = [{"name": "Invoice", "input_schema": Invoice.model_json_schema()}]
    counted = client.messages.count_tokens(
        model="claude-haiku-4-5", messages=user(DOC), tools=tools
    )
    billed = client.messages.create(
        model="claude-haiku-4-5", max_tokens=2048, messages=user(DOC), tools=tools
    )
    assert counted.input_tokens == billed.usage.input_tokens
