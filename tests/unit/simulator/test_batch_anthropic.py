"""The simulator's Anthropic Message Batches API, driven through the official anthropic SDK."""

from __future__ import annotations

from typing import Any

import anthropic
import httpx
import pytest
from anthropic.types.messages import MessageBatch, MessageBatchIndividualResponse

from scripts.simulator import BackgroundSimulator, SimState, batch_anthropic
from scripts.simulator.batch_core import outcome
from tests.unit.simulator.batch_support import billed_items, messages_body, poll
from tests.unit.simulator.harness import DOC, Invoice, anthropic_client, configure


def requests_for(custom_ids: list[str], body: dict[str, Any] | None = None) -> list[Any]:
    """One Message Batch request per custom_id, all with the same params."""
    return [{"custom_id": c, "params": body or messages_body()} for c in custom_ids]


def ended(client: anthropic.Anthropic, batch_id: str) -> MessageBatch:
    """Poll a batch until its processing has ended."""
    return poll(
        lambda: client.messages.batches.retrieve(batch_id),
        lambda b: b.processing_status == "ended",
    )


def results(client: anthropic.Anthropic, batch_id: str) -> dict[str, Any]:
    """custom_id -> result, read with the SDK's own results() stream."""
    lines: list[MessageBatchIndividualResponse] = list(client.messages.batches.results(batch_id))
    by_id = {line.custom_id: line.result for line in lines}
    assert len(by_id) == len(lines)  # each custom_id once
    return by_id


def test_anthropic_batch_round_trip_answers_each_request_like_the_realtime_endpoint(
    sim: BackgroundSimulator,
) -> None:
    configure(sim, batch_delay_s=0.5)
    client = anthropic_client(sim)
    texts = {"doc-a": DOC, "doc-b": "A receipt from Initech for staplers and toner."}
    requests: list[Any] = [{"custom_id": c, "params": messages_body(t)} for c, t in texts.items()]
    created = client.messages.batches.create(requests=requests)
    assert created.type == "message_batch"
    assert created.processing_status == "in_progress"
    assert created.request_counts.processing == 2
    assert created.results_url is None
    done = ended(client, created.id)
    assert done.ended_at is not None
    assert done.request_counts.succeeded == 2
    assert done.request_counts.processing == 0
    assert done.results_url == f"{sim.base_url}/v1/messages/batches/{created.id}/results"
    got = results(client, created.id)
    for custom_id, text in texts.items():
        result = got[custom_id]
        assert result.type == "succeeded"
        realtime = client.messages.create(**messages_body(text))
        assert result.message.content[0].input == realtime.content[0].input
        Invoice.model_validate(result.message.content[0].input)
        assert result.message.usage == realtime.usage
    billed = billed_items(sim)
    assert sorted(b["custom_id"] for b in billed) == sorted(texts)
    assert all(b["provider"] == "anthropic" and b["batch_id"] == created.id for b in billed)


def test_anthropic_batch_list_pages_newest_first_and_delete_removes_an_ended_batch(
    sim: BackgroundSimulator,
) -> None:
    configure(sim, batch_delay_s=0)
    client = anthropic_client(sim)
    made = [client.messages.batches.create(requests=requests_for(["r"])).id for _ in range(3)]
    page = client.messages.batches.list(limit=2)
    assert [b.id for b in page.data] == made[::-1][:2]
    assert page.has_more is True
    assert [b.id for b in client.messages.batches.list(limit=2)][:3] == made[::-1]
    assert client.messages.batches.delete(made[0]).type == "message_batch_deleted"
    with pytest.raises(anthropic.NotFoundError):
        client.messages.batches.retrieve(made[0])


def test_anthropic_batch_cancelled_before_the_delay_ends_cancels_unfinished_requests(
    sim: BackgroundSimulator,
) -> None:
    configure(sim, batch_delay_s=3.0)
    client = anthropic_client(sim)
    created = client.messages.batches.create(requests=requests_for(["x1", "x2", "x3"]))
    with pytest.raises(anthropic.BadRequestError):
        client.messages.batches.delete(created.id)  # still in progress
    cancelling = client.messages.batches.cancel(created.id)
    assert cancelling.processing_status == "canceling"
    assert cancelling.cancel_initiated_at is not None
    done = ended(client, created.id)
    assert done.request_counts.canceled == 3
    assert {r.type for r in results(client, created.id).values()} == {"canceled"}
    assert billed_items(sim) == []


BAD_REQUESTS: list[tuple[str, list[Any], str]] = [
    ("bad_pattern", [{"custom_id": "has space", "params": {}}], "custom_id"),
    ("too_long", [{"custom_id": "x" * 65, "params": {}}], "custom_id"),
    (
        "duplicate",
        [{"custom_id": "a", "params": {}}, {"custom_id": "a", "params": {}}],
        "Duplicate",
    ),
    ("no_params", [{"custom_id": "a"}], "params"),
    ("empty", [], "at least 1"),
]


@pytest.mark.parametrize(
    ("case", "requests", "words"), BAD_REQUESTS, ids=[c[0] for c in BAD_REQUESTS]
)
def test_anthropic_batch_with_a_bad_envelope_is_refused_with_400(
    sim: BackgroundSimulator, case: str, requests: list[Any], words: str
) -> None:
    with pytest.raises(anthropic.BadRequestError, match=words) as caught:
        anthropic_client(sim).messages.batches.create(requests=requests)
    body: Any = caught.value.body
    assert body["error"]["type"] == "invalid_request_error"
    assert case


def test_anthropic_batch_over_100000_requests_is_refused(sim: BackgroundSimulator) -> None:
    many: list[Any] = [{"custom_id": f"r{i}", "params": {}} for i in range(100_001)]
    with pytest.raises(anthropic.BadRequestError, match="at most 100000"):
        anthropic_client(sim).messages.batches.create(requests=many)


def test_anthropic_batch_over_the_byte_limit_is_refused_as_too_large(
    sim: BackgroundSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The server runs in this process: a lowered limit stands in for a 256 MB body.
    monkeypatch.setattr(batch_anthropic, "MAX_BYTES", 100)
    with pytest.raises(anthropic.APIStatusError) as caught:
        anthropic_client(sim).messages.batches.create(requests=requests_for(["a", "b"]))
    assert caught.value.status_code == 413
    body: Any = caught.value.body
    assert body["error"]["type"] == "request_too_large"


def test_anthropic_batch_request_with_invalid_params_errors_as_invalid_request(
    sim: BackgroundSimulator,
) -> None:
    configure(sim, batch_delay_s=0)
    client = anthropic_client(sim)
    body = messages_body()
    del body["max_tokens"]
    requests: list[Any] = [*requests_for(["good"]), {"custom_id": "bad", "params": body}]
    created = client.messages.batches.create(requests=requests)
    got = results(client, created.id)
    assert got["good"].type == "succeeded"
    assert got["bad"].type == "errored"
    assert got["bad"].error.error.type == "invalid_request_error"
    assert "max_tokens" in got["bad"].error.error.message
    assert [b["custom_id"] for b in billed_items(sim)] == ["good"]


def test_anthropic_batch_error_and_expire_rates_hit_the_drawn_items_and_bill_the_rest(
    sim: BackgroundSimulator,
) -> None:
    configure(sim, batch_delay_s=0, batch_error_rate=0.1, batch_expire_rate=0.1)
    client = anthropic_client(sim)
    ids = [f"item-{i}" for i in range(200)]
    created = client.messages.batches.create(requests=requests_for(ids))
    got = results(client, created.id)
    state = SimState(batch_error_rate=0.1, batch_expire_rate=0.1)
    fates = {c: outcome(state, c).fate for c in ids}
    assert {c for c, r in got.items() if r.type == "errored"} == {
        c for c, f in fates.items() if f == "errored"
    }
    assert {c for c, r in got.items() if r.type == "expired"} == {
        c for c, f in fates.items() if f == "expired"
    }
    errored = next(r for r in got.values() if r.type == "errored")
    assert errored.error.error.type == "api_error"
    counts = client.messages.batches.retrieve(created.id).request_counts
    assert counts.errored + counts.expired + counts.succeeded == 200
    assert counts.errored > 0
    assert counts.expired > 0
    billed = {b["custom_id"] for b in billed_items(sim)}
    assert billed == {c for c, r in got.items() if r.type == "succeeded"}


def test_anthropic_batch_results_before_the_end_are_refused(sim: BackgroundSimulator) -> None:
    configure(sim, batch_delay_s=30.0)
    created = anthropic_client(sim).messages.batches.create(requests=requests_for(["w"]))
    url = f"{sim.base_url}/v1/messages/batches/{created.id}/results"
    assert httpx.get(url).status_code == 400
    anthropic_client(sim).messages.batches.cancel(created.id)


def test_batch_knobs_are_set_by_sim_config_and_restored_by_sim_reset(
    sim: BackgroundSimulator,
) -> None:
    changed = configure(sim, batch_delay_s=2.5, batch_error_rate=0.2, batch_invalid_rate=0.3)
    assert (changed["batch_delay_s"], changed["batch_error_rate"]) == (2.5, 0.2)
    with pytest.raises(httpx.HTTPStatusError):
        configure(sim, batch_expire_rate=1.5)
    restored = httpx.post(f"{sim.base_url}/sim/reset").json()
    assert restored["batch_error_rate"] == 0.0
    assert restored["batch_delay_s"] == SimState().batch_delay_s


def test_batch_delay_default_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCQUEUE_SIM_BATCH_DELAY_S", "0.25")
    assert SimState().batch_delay_s == 0.25
    monkeypatch.delenv("DOCQUEUE_SIM_BATCH_DELAY_S")
    assert SimState().batch_delay_s == 1.0
