"""Injected faults, directives, latency and the /sim control endpoints."""

from __future__ import annotations

import asyncio
import time

import anthropic
import httpx
import instructor
import openai
import pytest
from instructor.core import InstructorRetryException

from scripts.simulator import BackgroundSimulator
from scripts.simulator.faults import parse_directives
from tests.unit.simulator.harness import (
    DOC,
    Invoice,
    anthropic_client,
    configure,
    openai_client,
    stats,
    user,
)


def test_injected_429_carries_retry_after(sim: BackgroundSimulator) -> None:
    configure(sim, fault_rate=1.0, fault_statuses=[429])
    with pytest.raises(openai.RateLimitError) as oa:
        openai_client(sim).chat.completions.create(model="gpt-5.6-luna", messages=user(DOC))
    headers = oa.value.response.headers
    assert 50 <= int(headers["retry-after-ms"]) <= 200
    assert headers["retry-after"] == "0"
    assert oa.value.code == "rate_limit_exceeded"
    with pytest.raises(anthropic.RateLimitError) as an:
        anthropic_client(sim).messages.create(
            model="claude-haiku-5-5", max_tokens=10, messages=user(DOC)
        )
    assert "retry-after-ms" in an.value.response.headers
    assert isinstance(an.value.body, dict)
    assert an.value.body["error"]["type"] == "rate_limit_error"
    counters = stats(sim)["by_model"]
    assert counters["gpt-5.6-luna"]["faults"] == 1
    assert counters["claude-haiku-5-5"]["by_status"] == {"429": 1}


def test_anthropic_529_is_overloaded_error(sim: BackgroundSimulator) -> None:
    configure(sim, status_models={"claude-sonnet-5-5": 529})
    with pytest.raises(anthropic.OverloadedError) as caught:
        anthropic_client(sim).messages.create(
            model="claude-sonnet-5-5", max_tokens=10, messages=user(DOC)
        )
    assert isinstance(caught.value.body, dict)
    assert caught.value.body["error"]["type"] == "overloaded_error"
    # Other models are untouched.
    anthropic_client(sim).messages.create(
        model="claude-haiku-5-5", max_tokens=10, messages=user(DOC)
    )


def test_down_models_answer_503_and_the_status_directive_sets_the_status(
    sim: BackgroundSimulator,
) -> None:
    configure(sim, down_models=["gpt-5.6-terra"])
    with pytest.raises(openai.InternalServerError) as caught:
        openai_client(sim).chat.completions.create(model="gpt-5.6-terra", messages=user(DOC))
    assert caught.value.status_code == 503
    with pytest.raises(openai.BadRequestError):
        openai_client(sim).chat.completions.create(
            model="gpt-5.6-luna", messages=user(DOC + " [[sim:status=400]]")
        )
    assert stats(sim)["by_model"]["gpt-5.6-luna"]["by_status"] == {"400": 1}


def test_fail_times_directive_fails_then_recovers(sim: BackgroundSimulator) -> None:
    client = anthropic_client(sim)
    doc = user(DOC + " [[sim:fail_times=2]] [[sim:status=529]]")
    for _ in range(2):
        with pytest.raises(anthropic.OverloadedError):
            client.messages.create(model="claude-haiku-5-5", max_tokens=100, messages=doc)
    client.messages.create(model="claude-haiku-5-5", max_tokens=100, messages=doc)
    assert stats(sim)["by_model"]["claude-haiku-5-5"]["by_status"] == {"529": 2, "200": 1}


def test_document_directive_makes_answers_fail_validation(sim: BackgroundSimulator) -> None:
    client = instructor.from_openai(openai_client(sim), mode=instructor.Mode.TOOLS)
    with pytest.raises(InstructorRetryException):
        client.chat.completions.create(
            model="gpt-5.6-luna",
            response_model=Invoice,
            messages=user(DOC + " [[sim:invalid]]"),
            max_retries=2,
        )
    counters = stats(sim)["by_model"]["gpt-5.6-luna"]
    assert counters["invalid"] == 3
    assert counters["ok"] == 3  # well-formed answers: only validation rejects them


def test_invalid_rate_breaks_answers(sim: BackgroundSimulator) -> None:
    configure(sim, invalid_rate=1.0)
    client = instructor.from_anthropic(anthropic_client(sim))
    with pytest.raises(InstructorRetryException):
        client.messages.create(
            model="claude-haiku-5-5",
            max_tokens=1024,
            response_model=Invoice,
            messages=user(DOC),
            max_retries=0,
        )


def test_inflight_counter_tracks_concurrency(sim: BackgroundSimulator) -> None:
    configure(sim, latency_ms=400)
    started = time.time()

    async def burst() -> None:
        client = openai.AsyncOpenAI(base_url=sim.openai_base_url, api_key="x", max_retries=0)
        calls = [
            client.chat.completions.create(model="gpt-5.6-luna", messages=user(DOC))
            for _ in range(20)
        ]
        async with client:
            await asyncio.gather(*calls)

    asyncio.run(burst())
    time.sleep(0.15)  # let the sampler record the idle state after the burst
    snapshot = stats(sim)
    assert snapshot["in_flight"] == 0
    assert snapshot["max_in_flight"] == 20
    assert snapshot["by_model"]["gpt-5.6-luna"]["max_in_flight"] == 20
    assert snapshot["by_model"]["gpt-5.6-luna"]["in_flight"] == 0
    samples = [n for t, n in snapshot["inflight_samples"] if t >= started]
    assert max(samples) >= 15
    assert samples[-1] == 0


def test_latency_directive_delays_and_timeouts_hang_until_the_client_leaves(
    sim: BackgroundSimulator,
) -> None:
    start = time.monotonic()
    openai_client(sim).chat.completions.create(
        model="gpt-5.6-luna", messages=user(DOC + " [[sim:latency_ms=300]]")
    )
    assert time.monotonic() - start >= 0.3
    configure(sim, timeout_rate=1.0)
    with pytest.raises(openai.APITimeoutError):
        openai_client(sim, timeout=0.3).chat.completions.create(
            model="gpt-5.6-luna", messages=user(DOC)
        )
    configure(sim, timeout_rate=0.0)
    with pytest.raises(anthropic.APITimeoutError):
        anthropic_client(sim, timeout=0.3).messages.create(
            model="claude-haiku-5-5", max_tokens=10, messages=user(DOC + " [[sim:timeout]]")
        )
    deadline = time.monotonic() + 5
    while stats(sim)["in_flight"] and time.monotonic() < deadline:
        time.sleep(0.05)  # the hang ends when the server sees the client go away
    for model in ("gpt-5.6-luna", "claude-haiku-5-5"):
        counters = stats(sim)["by_model"][model]
        assert counters["timeouts"] == 1
        assert counters["disconnects"] == 1
    assert stats(sim)["in_flight"] == 0


def test_config_rejects_bad_values_and_reset_restores_the_initial_state(
    sim: BackgroundSimulator,
) -> None:
    bad = httpx.post(f"{sim.base_url}/sim/config", json={"fault_rate": 2})
    assert bad.status_code == 400
    unknown = httpx.post(f"{sim.base_url}/sim/config", json={"nope": 1})
    assert unknown.status_code == 400
    assert configure(sim, latency_ms=5, down_models=["x"])["down_models"] == ["x"]
    state = httpx.post(f"{sim.base_url}/sim/reset").json()
    assert state["down_models"] == []
    assert state["latency_ms"] == 0
    assert state["record_requests"] == 20  # reset restores the app's initial state


def test_directives_are_parsed_from_the_document_text() -> None:
    found = parse_directives("x [[sim:invalid_once]] [[sim:status=529]] [[sim:latency_ms=50]]")
    assert found.invalid_once
    assert not found.invalid
    assert found.status == 529
    assert found.latency_ms == 50
