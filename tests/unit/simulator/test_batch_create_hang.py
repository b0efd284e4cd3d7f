"""The simulator's `batch_create_hang_s`: a create registers its batch, then keeps its answer."""

from __future__ import annotations

import time
from typing import Any

import anthropic
import httpx
import openai
import pytest

from scripts.simulator import BackgroundSimulator
from tests.unit.simulator.batch_support import chat_body, jsonl, jsonl_line, messages_body
from tests.unit.simulator.harness import anthropic_client, configure, openai_client

HANG_S = 2.0
GIVE_UP_S = 0.5  # the client's read timeout: it gives up long before the answer


def _one_request(custom_id: str) -> list[Any]:
    """A Message Batch of one request."""
    return [{"custom_id": custom_id, "params": messages_body()}]


def test_a_hung_openai_create_lists_the_tagged_batch_before_its_caller_gets_an_answer(
    sim: BackgroundSimulator,
) -> None:
    configure(sim, batch_create_hang_s=HANG_S)
    client = openai_client(sim)
    uploaded = client.files.create(
        file=("input.jsonl", jsonl([jsonl_line("a-1", chat_body())])), purpose="batch"
    )
    started = time.monotonic()
    with pytest.raises(openai.APITimeoutError):
        client.with_options(timeout=GIVE_UP_S).batches.create(
            input_file_id=uploaded.id,
            endpoint="/v1/chat/completions",
            completion_window="24h",
            metadata={"docqueue_submission": "sub-hung"},
        )
    assert time.monotonic() - started < HANG_S  # the timeout, not the answer, ended the call
    # the package's simulator keeps other tests' batches: pick ours by its input file
    ours = [b for b in client.batches.list(limit=100) if b.input_file_id == uploaded.id]
    assert [b.metadata for b in ours] == [{"docqueue_submission": "sub-hung"}]


def test_a_hung_anthropic_create_lists_the_batch_before_its_caller_gets_an_answer(
    sim: BackgroundSimulator,
) -> None:
    configure(sim, batch_create_hang_s=HANG_S)
    client = anthropic_client(sim)
    before = {b.id for b in client.messages.batches.list(limit=100)}
    started = time.monotonic()
    with pytest.raises(anthropic.APITimeoutError):
        client.with_options(timeout=GIVE_UP_S).messages.batches.create(requests=_one_request("b-1"))
    assert time.monotonic() - started < HANG_S
    new = [b for b in client.messages.batches.list(limit=100) if b.id not in before]
    assert len(new) == 1
    assert sum(new[0].request_counts.model_dump().values()) == 1


def test_a_create_answers_at_once_without_the_hang_and_a_reset_clears_it(
    sim: BackgroundSimulator,
) -> None:
    assert configure(sim, batch_create_hang_s=HANG_S)["batch_create_hang_s"] == HANG_S
    reset = httpx.post(f"{sim.base_url}/sim/reset").json()
    assert reset["batch_create_hang_s"] == 0.0
    started = time.monotonic()
    created = anthropic_client(sim, timeout=GIVE_UP_S).messages.batches.create(
        requests=_one_request("c-1")
    )
    assert created.processing_status == "in_progress"
    assert time.monotonic() - started < GIVE_UP_S


def test_a_negative_create_hang_is_refused_and_leaves_the_state_as_it_was(
    sim: BackgroundSimulator,
) -> None:
    response = httpx.post(f"{sim.base_url}/sim/config", json={"batch_create_hang_s": -1})
    assert response.status_code == 400
    assert "batch_create_hang_s" in response.json()["error"]
    assert httpx.get(f"{sim.base_url}/sim/config").json()["batch_create_hang_s"] == 0.0
