"""AnthropicBatches against the simulator's Message Batches API, through the official SDK."""

from __future__ import annotations

import datetime as dt

import anthropic
import pytest
from anthropic.types import Message

from scripts.simulator import BackgroundSimulator
from tasks.batchlane.anthropic_batches import AmbiguousBatch, AnthropicBatches
from tasks.batchlane.providers import BatchRequest
from tests.unit.batchlane.support import (
    billed_ids,
    configure,
    messages_request,
    poll_until_ended,
)


def test_anthropic_submit_poll_and_results_return_every_answer_as_a_message(
    sim: BackgroundSimulator, anthropic_client: anthropic.Anthropic
) -> None:
    configure(sim, batch_delay_s=0.3)
    provider = AnthropicBatches(anthropic_client)
    requests = [messages_request(f"ok-{i}", f"Invoice {i} from Acme.") for i in range(3)]
    submitted = provider.submit(submission_id="sub-ok", requests=requests)
    assert submitted.provider_batch_id.startswith("msgbatch_")
    assert (submitted.input_file_id, submitted.status) == (None, "in_progress")
    assert submitted.expires_at is not None
    polled = poll_until_ended(provider, submitted.provider_batch_id)
    assert (polled.status, polled.failed) == ("ended", False)
    assert polled.counts["succeeded"] == 3
    results = list(provider.results(provider_batch_id=submitted.provider_batch_id))
    assert sorted(r.custom_id for r in results) == ["ok-0", "ok-1", "ok-2"]
    for result in results:
        assert (result.kind, result.status) == ("answered", 200)
        message = Message.model_validate(result.body)
        assert message.content[0].type == "tool_use"
        assert set(message.content[0].input) == {"vendor", "total"}


def test_anthropic_results_map_error_types_to_http_statuses_and_keep_the_error_body(
    sim: BackgroundSimulator, anthropic_client: anthropic.Anthropic
) -> None:
    configure(sim, batch_delay_s=0, batch_error_rate=0.15, batch_expire_rate=0.15)
    provider = AnthropicBatches(anthropic_client)
    broken = BatchRequest.of("no-max-tokens", {"model": "claude-sim-haiku", "messages": []})
    requests = [*(messages_request(f"k-{i}") for i in range(60)), broken]
    submitted = provider.submit(submission_id="sub-kinds", requests=requests)
    poll_until_ended(provider, submitted.provider_batch_id)
    results = {
        r.custom_id: r for r in provider.results(provider_batch_id=submitted.provider_batch_id)
    }
    assert set(results) == {r.custom_id for r in requests}
    assert {r.kind for r in results.values()} == {"answered", "errored", "expired"}
    bad = results["no-max-tokens"]
    assert (bad.kind, bad.status) == ("errored", 400)
    assert bad.body is not None
    assert bad.body["type"] == "error"
    assert bad.body["error"]["type"] == "invalid_request_error"
    api_errors = [r for r in results.values() if r.status == 500]
    assert api_errors
    assert all(r.body and r.body["error"]["type"] == "api_error" for r in api_errors)
    answered = {c for c, r in results.items() if r.kind == "answered"}
    assert billed_ids(sim) == answered


def test_anthropic_find_after_a_crash_matches_the_ended_batch_by_its_custom_ids(
    sim: BackgroundSimulator, anthropic_client: anthropic.Anthropic
) -> None:
    configure(sim, batch_delay_s=0)
    provider = AnthropicBatches(anthropic_client)
    before = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=2)
    mine = provider.submit(
        submission_id="sub-a", requests=[messages_request("a-1"), messages_request("a-2")]
    )
    provider.submit(
        submission_id="sub-b", requests=[messages_request("b-1"), messages_request("b-2")]
    )
    found = provider.find(submission_id="sub-a", created_after=before, custom_ids=["a-1", "a-2"])
    assert found is not None
    assert found.provider_batch_id == mine.provider_batch_id
    assert provider.find(submission_id="sub-c", created_after=before, custom_ids=["c-1"]) is None
    assert (
        provider.find(submission_id="sub-x", created_after=before, custom_ids=["a-1", "x"]) is None
    )
    later = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=5)
    assert (
        provider.find(submission_id="sub-a", created_after=later, custom_ids=["a-1", "a-2"]) is None
    )


def test_anthropic_find_adopts_a_lone_unfinished_batch_and_refuses_to_guess_between_two(
    sim: BackgroundSimulator, anthropic_client: anthropic.Anthropic
) -> None:
    configure(sim, batch_delay_s=30.0)
    provider = AnthropicBatches(anthropic_client)
    before = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=2)
    ids = [f"u-{i}" for i in range(7)]
    first = provider.submit(submission_id="sub-u", requests=[messages_request(c) for c in ids])
    found = provider.find(submission_id="sub-u", created_after=before, custom_ids=ids)
    assert found is not None
    assert found.provider_batch_id == first.provider_batch_id
    other = [f"v-{i}" for i in range(7)]
    second = provider.submit(submission_id="sub-v", requests=[messages_request(c) for c in other])
    with pytest.raises(AmbiguousBatch):
        provider.find(submission_id="sub-u", created_after=before, custom_ids=ids)
    for batch in (first, second):
        provider.cancel(provider_batch_id=batch.provider_batch_id)


def test_anthropic_cancel_ends_the_batch_with_every_unfinished_item_cancelled(
    sim: BackgroundSimulator, anthropic_client: anthropic.Anthropic
) -> None:
    configure(sim, batch_delay_s=3.0)
    provider = AnthropicBatches(anthropic_client)
    submitted = provider.submit(
        submission_id="sub-cancel", requests=[messages_request(f"c-{i}") for i in range(3)]
    )
    provider.cancel(provider_batch_id=submitted.provider_batch_id)
    polled = poll_until_ended(provider, submitted.provider_batch_id)
    assert polled.counts["canceled"] == 3
    results = list(provider.results(provider_batch_id=submitted.provider_batch_id))
    assert {(r.kind, r.status, r.body) for r in results} == {("cancelled", None, None)}
    assert billed_ids(sim) == set()
