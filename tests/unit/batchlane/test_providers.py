"""The provider-neutral helpers: JSONL encoding, sharding under limits, the in-memory fake."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from tasks.batchlane.providers import (
    LIMITS,
    BatchRequest,
    FakeBatchProvider,
    ItemResult,
    anthropic_entry_size,
    encode_jsonl,
    openai_line_size,
    shard,
)


def req(custom_id: str, text: str = "x") -> BatchRequest:
    """A small request whose size grows with `text`."""
    return BatchRequest.of(
        custom_id, {"model": "m", "messages": [{"role": "user", "content": text}]}
    )


def test_encode_jsonl_writes_one_post_line_per_request_with_the_exact_body() -> None:
    requests = [req("a", "café"), req("b")]
    data = encode_jsonl(requests)
    assert data.endswith(b"\n")
    lines = [json.loads(line) for line in data.splitlines()]
    assert lines == [
        {"custom_id": r.custom_id, "method": "POST", "url": "/v1/chat/completions", "body": r.body}
        for r in requests
    ]
    assert "café".encode() in data  # UTF-8 as is, not \u escapes
    assert len(data) == sum(openai_line_size(r) for r in requests)


def test_shard_by_count_keeps_order_and_fills_each_shard_to_the_limit() -> None:
    requests = [req(f"r{i}") for i in range(5)]
    shards = shard(requests, max_requests=2, max_bytes=10**6)
    assert [[r.custom_id for r in s] for s in shards] == [["r0", "r1"], ["r2", "r3"], ["r4"]]


def test_shard_by_bytes_never_exceeds_the_limit_as_encoded_for_the_provider() -> None:
    requests = [req(f"r{i}", "y" * (10 * i)) for i in range(8)]
    limit = openai_line_size(requests[-1]) + openai_line_size(requests[0])
    shards = shard(requests, max_requests=100, max_bytes=limit)
    assert len(shards) > 1
    assert [r for s in shards for r in s] == requests
    assert all(sum(openai_line_size(r) for r in s) <= limit for s in shards)
    assert all(len(encode_jsonl(s)) <= limit for s in shards)


def test_shard_counts_anthropic_bytes_with_the_anthropic_encoding() -> None:
    requests = [req(f"r{i}", "é" * 50) for i in range(6)]
    limit = 3 * anthropic_entry_size(requests[0])
    by_anthropic = shard(requests, max_requests=100, max_bytes=limit, size=anthropic_entry_size)
    assert [len(s) for s in by_anthropic] == [3, 3]
    compact = json.dumps(
        {"requests": [{"custom_id": r.custom_id, "params": r.body} for r in by_anthropic[0]]},
        ensure_ascii=False,
        separators=(",", ":"),
    )
    assert len(compact.encode()) <= limit
    assert LIMITS["anthropic"].size is anthropic_entry_size


def test_shard_refuses_a_request_larger_than_the_byte_limit() -> None:
    big = req("big", "z" * 1000)
    with pytest.raises(ValueError, match="big"):
        shard([req("a"), big], max_requests=10, max_bytes=500)


def test_shard_of_nothing_is_no_shards() -> None:
    assert shard([], max_requests=1, max_bytes=1) == []


def test_fake_provider_records_submits_and_serves_the_results_a_test_sets() -> None:
    fake = FakeBatchProvider(name="anthropic")
    before = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    submitted = fake.submit(submission_id="s1", requests=[req("a")])
    assert fake.submits == [("s1", [req("a")])]
    assert not fake.poll(provider_batch_id=submitted.provider_batch_id).ended
    found = fake.find(submission_id="s1", created_after=before, custom_ids=["a"])
    assert found is not None
    assert found.provider_batch_id == submitted.provider_batch_id
    assert fake.find(submission_id="s2", created_after=before, custom_ids=["a"]) is None
    line = ItemResult("a", "answered", 200, {"id": "msg"})
    fake.finish(submitted.provider_batch_id, [line])
    assert fake.poll(provider_batch_id=submitted.provider_batch_id).ended
    assert list(fake.results(provider_batch_id=submitted.provider_batch_id)) == [line]
    fake.cancel(provider_batch_id=submitted.provider_batch_id)
    assert fake.cancels == [submitted.provider_batch_id]


def test_fake_provider_raises_the_submit_failure_a_test_arms_once() -> None:
    fake = FakeBatchProvider()
    fake.fail_submit = ConnectionError("down")
    with pytest.raises(ConnectionError):
        fake.submit(submission_id="s1", requests=[req("a")])
    assert fake.submit(submission_id="s1", requests=[req("a")]).provider_batch_id
