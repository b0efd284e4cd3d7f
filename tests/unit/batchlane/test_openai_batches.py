"""OpenAIBatches against the simulator's Files and Batches APIs, through the official SDK."""

from __future__ import annotations

import datetime as dt
import json

import openai
import pytest
from openai.types.chat import ChatCompletion

from scripts.simulator import BackgroundSimulator
from tasks.batchlane.openai_batches import OpenAIBatches
from tasks.batchlane.providers import BatchRequest
from tests.unit.batchlane.support import (
    billed_ids,
    chat_request,
    configure,
    poll_until_ended,
)


def test_openai_submit_poll_and_results_return_every_answer_as_a_chat_completion(
    sim: BackgroundSimulator, openai_client: openai.OpenAI
) -> None:
    configure(sim, batch_delay_s=0.3)
    provider = OpenAIBatches(openai_client)
    requests = [chat_request(f"ok-{i}", f"Invoice {i} from Acme.") for i in range(4)]
    submitted = provider.submit(submission_id="sub-ok", requests=requests)
    assert submitted.provider_batch_id.startswith("batch_")
    assert submitted.input_file_id is not None
    assert submitted.status == "validating"
    assert submitted.expires_at is not None
    assert submitted.expires_at > dt.datetime.now(dt.UTC) + dt.timedelta(hours=23)
    uploaded = openai_client.files.content(submitted.input_file_id).content
    assert [json.loads(line)["body"] for line in uploaded.splitlines()] == [
        r.body for r in requests
    ]
    polled = poll_until_ended(provider, submitted.provider_batch_id)
    assert (polled.status, polled.failed, polled.error) == ("completed", False, None)
    assert polled.counts == {"total": 4, "completed": 4, "failed": 0}
    results = list(provider.results(provider_batch_id=submitted.provider_batch_id))
    assert [r.custom_id for r in results] == [r.custom_id for r in requests]
    for result in results:
        assert (result.kind, result.status) == ("answered", 200)
        assert result.body is not None
        content = ChatCompletion.model_validate(result.body).choices[0].message.content
        assert set(json.loads(content or "")) == {"vendor", "total"}


def test_openai_results_carry_each_kind_with_its_http_status_and_error_body(
    sim: BackgroundSimulator, openai_client: openai.OpenAI
) -> None:
    configure(sim, batch_delay_s=0, batch_error_rate=0.15, batch_expire_rate=0.15)
    provider = OpenAIBatches(openai_client)
    # At seed 0 this custom_id draws "succeeded", so its 400 comes from validating the body.
    broken = BatchRequest.of("broken-body", {"model": "gpt-5.6-luna", "messages": []})
    requests = [*(chat_request(f"k-{i}") for i in range(60)), broken]
    submitted = provider.submit(submission_id="sub-kinds", requests=requests)
    polled = poll_until_ended(provider, submitted.provider_batch_id)
    assert polled.status == "expired"  # some items never ran: the window closed on them
    results = {
        r.custom_id: r for r in provider.results(provider_batch_id=submitted.provider_batch_id)
    }
    assert set(results) == {r.custom_id for r in requests}
    kinds = {r.kind for r in results.values()}
    assert kinds == {"answered", "errored", "expired"}
    assert (results["broken-body"].kind, results["broken-body"].status) == ("errored", 400)
    assert results["broken-body"].body is not None
    assert results["broken-body"].body["error"]["type"] == "invalid_request_error"
    server_errors = [r for r in results.values() if r.status == 500]
    assert server_errors
    assert all(r.kind == "errored" and r.body and "error" in r.body for r in server_errors)
    assert all(r.body is None for r in results.values() if r.kind == "expired")
    answered = {c for c, r in results.items() if r.kind == "answered"}
    assert billed_ids(sim) == answered


def test_openai_find_after_a_crash_returns_the_batch_tagged_with_the_submission(
    sim: BackgroundSimulator, openai_client: openai.OpenAI
) -> None:
    configure(sim, batch_delay_s=0)
    provider = OpenAIBatches(openai_client)
    before = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=2)
    mine = provider.submit(submission_id="sub-crash", requests=[chat_request("crash-1")])
    provider.submit(submission_id="sub-other", requests=[chat_request("other-1")])
    ids = ["crash-1"]
    found = provider.find(submission_id="sub-crash", created_after=before, custom_ids=ids)
    assert found is not None
    assert found.provider_batch_id == mine.provider_batch_id
    assert found.input_file_id == mine.input_file_id
    assert provider.find(submission_id="sub-never", created_after=before, custom_ids=ids) is None
    later = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=5)
    assert provider.find(submission_id="sub-crash", created_after=later, custom_ids=ids) is None


def test_openai_find_pages_through_more_batches_than_one_list_page(
    sim: BackgroundSimulator, openai_client: openai.OpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    configure(sim, batch_delay_s=0)
    monkeypatch.setattr("tasks.batchlane.openai_batches.LIST_PAGE", 2)
    provider = OpenAIBatches(openai_client)
    before = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=2)
    first = provider.submit(submission_id="sub-old", requests=[chat_request("p-0")])
    for i in range(1, 6):
        provider.submit(submission_id=f"sub-new-{i}", requests=[chat_request(f"p-{i}")])
    found = provider.find(submission_id="sub-old", created_after=before, custom_ids=["p-0"])
    assert found is not None
    assert found.provider_batch_id == first.provider_batch_id


def test_openai_batch_refused_by_validation_polls_as_failed_with_the_reason(
    sim: BackgroundSimulator, openai_client: openai.OpenAI
) -> None:
    configure(sim, batch_delay_s=0)
    provider = OpenAIBatches(openai_client)
    twice = [chat_request("dup"), chat_request("dup")]
    submitted = provider.submit(submission_id="sub-dup", requests=twice)
    polled = poll_until_ended(provider, submitted.provider_batch_id)
    assert (polled.status, polled.failed) == ("failed", True)
    assert polled.error is not None
    assert "duplicate_custom_id" in polled.error
    assert "line 2" in polled.error
    assert list(provider.results(provider_batch_id=submitted.provider_batch_id)) == []


def test_openai_cancel_ends_the_batch_with_every_unfinished_item_cancelled(
    sim: BackgroundSimulator, openai_client: openai.OpenAI
) -> None:
    configure(sim, batch_delay_s=3.0)
    provider = OpenAIBatches(openai_client)
    requests = [chat_request(f"c-{i}") for i in range(3)]
    submitted = provider.submit(submission_id="sub-cancel", requests=requests)
    provider.cancel(provider_batch_id=submitted.provider_batch_id)
    polled = poll_until_ended(provider, submitted.provider_batch_id)
    assert polled.status == "cancelled"
    results = list(provider.results(provider_batch_id=submitted.provider_batch_id))
    assert {(r.kind, r.status) for r in results} == {("cancelled", None)}
    assert len(results) == 3
    provider.cancel(provider_batch_id=submitted.provider_batch_id)  # ended: a no-op
    assert billed_ids(sim) == set()


def test_openai_submit_refuses_an_unsharded_oversized_submission(
    openai_client: openai.OpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tasks.batchlane import providers

    small = providers.Limits(2, 10**6, providers.openai_line_size)
    monkeypatch.setitem(providers.LIMITS, "openai", small)
    requests = [chat_request(f"s-{i}") for i in range(3)]
    with pytest.raises(ValueError, match="shard"):
        OpenAIBatches(openai_client).submit(submission_id="sub-big", requests=requests)
