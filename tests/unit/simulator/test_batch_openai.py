"""The simulator's OpenAI Files and Batches APIs, driven through the official openai SDK."""

from __future__ import annotations

from typing import Any

import openai
import pydantic
import pytest
from openai.types import Batch
from openai.types.chat import ChatCompletion

from scripts.simulator import BackgroundSimulator, SimState, batch_files
from scripts.simulator.batch_core import outcome
from tests.unit.simulator.batch_support import (
    OPENAI_MODEL,
    billed_items,
    chat_body,
    jsonl,
    jsonl_line,
    poll,
    read_jsonl,
)
from tests.unit.simulator.harness import DOC, Invoice, configure, openai_client

ENDED = ("completed", "failed", "expired", "cancelled")


def run_batch(
    client: openai.OpenAI, lines: list[dict[str, Any]], **metadata: str
) -> tuple[Batch, Batch]:
    """Upload the lines, create a batch, poll until it ends: (as created, as ended)."""
    uploaded = client.files.create(file=("input.jsonl", jsonl(lines)), purpose="batch")
    created = client.batches.create(
        input_file_id=uploaded.id,
        endpoint="/v1/chat/completions",
        completion_window="24h",
        metadata=metadata or None,
    )
    ended = poll(lambda: client.batches.retrieve(created.id), lambda b: b.status in ENDED)
    return created, ended


def file_lines(client: openai.OpenAI, file_id: str | None) -> list[dict[str, Any]]:
    """The JSONL lines of an output or error file (none when there is no file)."""
    return [] if file_id is None else read_jsonl(client.files.content(file_id).content)


def test_openai_batch_round_trip_answers_each_line_like_the_realtime_endpoint(
    sim: BackgroundSimulator,
) -> None:
    configure(sim, batch_delay_s=0.5)
    client = openai_client(sim)
    texts = [DOC, DOC.replace("2291", "4410"), "A receipt from Initech for staplers."]
    lines = [jsonl_line(f"doc-{i}", chat_body(t)) for i, t in enumerate(texts)]
    created, ended = run_batch(client, lines, docqueue_submission="sub-1")
    assert created.status == "validating"
    assert ended.status == "completed"
    assert ended.metadata == {"docqueue_submission": "sub-1"}
    assert ended.model == OPENAI_MODEL
    assert ended.request_counts is not None
    assert ended.request_counts.model_dump() == {"total": 3, "completed": 3, "failed": 0}
    assert ended.in_progress_at is not None
    assert ended.completed_at is not None
    assert ended.error_file_id is None
    out = file_lines(client, ended.output_file_id)
    assert [line["custom_id"] for line in out] == ["doc-0", "doc-1", "doc-2"]
    for line, text in zip(out, texts, strict=True):
        assert line["id"].startswith("batch_req_")
        assert line["error"] is None
        assert line["response"]["status_code"] == 200
        batch_answer = ChatCompletion.model_validate(line["response"]["body"])
        realtime = client.chat.completions.create(**chat_body(text))
        batch_call = batch_answer.choices[0].message.tool_calls
        realtime_call = realtime.choices[0].message.tool_calls
        assert batch_call is not None
        assert realtime_call is not None
        assert batch_call[0].function.arguments == realtime_call[0].function.arguments  # type: ignore[union-attr]
        Invoice.model_validate_json(batch_call[0].function.arguments)  # type: ignore[union-attr]
        assert batch_answer.usage == realtime.usage
    billed = billed_items(sim)
    assert [b["custom_id"] for b in billed] == ["doc-0", "doc-1", "doc-2"]
    assert all(b["provider"] == "openai" and b["batch_id"] == ended.id for b in billed)
    assert ended.usage is not None
    assert ended.usage.input_tokens == sum(b["input_tokens"] for b in billed)


def test_openai_files_store_retrieve_serve_raw_bytes_and_delete(sim: BackgroundSimulator) -> None:
    client = openai_client(sim)
    data = jsonl([jsonl_line("a", chat_body())])
    uploaded = client.files.create(file=("in.jsonl", data), purpose="batch")
    assert uploaded.bytes == len(data)
    assert uploaded.purpose == "batch"
    assert client.files.retrieve(uploaded.id).filename == "in.jsonl"
    assert client.files.content(uploaded.id).content == data
    assert client.files.delete(uploaded.id).deleted is True
    with pytest.raises(openai.NotFoundError):
        client.files.retrieve(uploaded.id)


def test_openai_batch_upload_refuses_a_file_that_is_not_jsonl(sim: BackgroundSimulator) -> None:
    with pytest.raises(openai.BadRequestError, match="jsonl"):
        openai_client(sim).files.create(file=("in.csv", b"a,b\n"), purpose="batch")


BAD_INPUTS: list[tuple[str, list[bytes], str, int]] = [
    ("bad_json", [b'{"custom_id": "a", "method": "POST"'], "invalid_json_line", 1),
    (
        "wrong_url",
        [jsonl([jsonl_line("a", chat_body()), jsonl_line("b", chat_body(), url="/v1/embeddings")])],
        "url_mismatch",
        2,
    ),
    ("wrong_method", [jsonl([jsonl_line("a", chat_body(), method="GET")])], "invalid_method", 1),
    (
        "duplicate_id",
        [jsonl([jsonl_line("a", chat_body()), jsonl_line("a", chat_body())])],
        "duplicate_custom_id",
        2,
    ),
    (
        "two_models",
        [jsonl([jsonl_line("a", chat_body()), jsonl_line("b", chat_body(model="gpt-other"))])],
        "model_mismatch",
        2,
    ),
]


@pytest.mark.parametrize(
    ("case", "content", "code", "line"), BAD_INPUTS, ids=[c[0] for c in BAD_INPUTS]
)
def test_openai_batch_with_invalid_input_fails_with_the_line_and_code(
    sim: BackgroundSimulator, case: str, content: list[bytes], code: str, line: int
) -> None:
    configure(sim, batch_delay_s=0)
    client = openai_client(sim)
    uploaded = client.files.create(file=(f"{case}.jsonl", b"".join(content)), purpose="batch")
    batch = client.batches.create(
        input_file_id=uploaded.id, endpoint="/v1/chat/completions", completion_window="24h"
    )
    assert batch.status == "failed"
    assert batch.failed_at is not None
    assert batch.errors is not None
    assert batch.errors.data is not None
    assert (batch.errors.data[0].code, batch.errors.data[0].line) == (code, line)
    assert batch.output_file_id is None
    assert billed_items(sim) == []


def test_openai_batch_over_50000_lines_fails_as_too_many_tasks(sim: BackgroundSimulator) -> None:
    configure(sim, batch_delay_s=0)
    line = jsonl([jsonl_line("x", {"model": OPENAI_MODEL})])
    many = b"".join(line.replace(b'"x"', f'"x{i}"'.encode()) for i in range(50_001))
    client = openai_client(sim)
    uploaded = client.files.create(file=("many.jsonl", many), purpose="batch")
    batch = client.batches.create(
        input_file_id=uploaded.id, endpoint="/v1/chat/completions", completion_window="24h"
    )
    assert batch.status == "failed"
    assert batch.errors is not None
    assert [e.code for e in batch.errors.data or []] == ["too_many_tasks"]


def test_openai_batch_over_the_byte_limit_fails_as_file_too_large(
    sim: BackgroundSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The server runs in this process: a lowered limit stands in for a 200 MB upload.
    data = jsonl([jsonl_line("a", chat_body()), jsonl_line("b", chat_body())])
    monkeypatch.setattr(batch_files, "MAX_FILE_BYTES", len(data) - 1)
    configure(sim, batch_delay_s=0)
    client = openai_client(sim)
    uploaded = client.files.create(file=("big.jsonl", data), purpose="batch")
    batch = client.batches.create(
        input_file_id=uploaded.id, endpoint="/v1/chat/completions", completion_window="24h"
    )
    assert batch.status == "failed"
    assert batch.errors is not None
    assert [e.code for e in batch.errors.data or []] == ["file_too_large"]


def test_openai_batch_error_rate_fails_the_drawn_items_and_bills_only_the_rest(
    sim: BackgroundSimulator,
) -> None:
    configure(sim, batch_delay_s=0, batch_error_rate=0.1)
    client = openai_client(sim)
    ids = [f"item-{i}" for i in range(200)]
    _, ended = run_batch(client, [jsonl_line(c, chat_body()) for c in ids])
    state = SimState(batch_error_rate=0.1)
    expected = {c for c in ids if outcome(state, c).fate == "errored"}
    assert 5 <= len(expected) <= 40  # the draw is a fixed function of (seed, custom_id)
    errors = file_lines(client, ended.error_file_id)
    assert {line["custom_id"] for line in errors} == expected
    assert {line["response"]["status_code"] for line in errors} == {500}
    assert errors[0]["response"]["body"]["error"]["type"] == "server_error"
    assert ended.request_counts is not None
    assert ended.request_counts.failed == len(expected)
    billed = {b["custom_id"] for b in billed_items(sim)}
    assert billed == set(ids) - expected
    assert {line["custom_id"] for line in file_lines(client, ended.output_file_id)} == billed


def test_openai_batch_item_fates_repeat_for_the_same_custom_id_and_redraw_for_a_new_one(
    sim: BackgroundSimulator,
) -> None:
    configure(sim, batch_delay_s=0, batch_error_rate=0.5)
    client = openai_client(sim)
    ids = [f"same-{i}" for i in range(40)]

    def errored(custom_ids: list[str]) -> list[bool]:
        _, ended = run_batch(client, [jsonl_line(c, chat_body()) for c in custom_ids])
        failed = {line["custom_id"] for line in file_lines(client, ended.error_file_id)}
        return [c in failed for c in custom_ids]

    first = errored(ids)
    assert errored(ids) == first
    assert errored([f"{c}-retry" for c in ids]) != first


def test_openai_batch_expire_rate_expires_the_batch_and_writes_batch_expired_lines(
    sim: BackgroundSimulator,
) -> None:
    configure(sim, batch_delay_s=0, batch_expire_rate=0.3)
    client = openai_client(sim)
    ids = [f"exp-{i}" for i in range(30)]
    _, ended = run_batch(client, [jsonl_line(c, chat_body()) for c in ids])
    assert ended.status == "expired"
    assert ended.expired_at is not None
    expired = file_lines(client, ended.error_file_id)
    assert expired
    assert all(line["response"] is None for line in expired)
    assert {line["error"]["code"] for line in expired} == {"batch_expired"}
    assert len(billed_items(sim)) == len(ids) - len(expired)


def test_openai_batch_invalid_rate_answers_with_values_that_fail_validation(
    sim: BackgroundSimulator,
) -> None:
    configure(sim, batch_delay_s=0, batch_invalid_rate=1.0)
    client = openai_client(sim)
    _, ended = run_batch(client, [jsonl_line("bad", chat_body())])
    (line,) = file_lines(client, ended.output_file_id)
    answer = ChatCompletion.model_validate(line["response"]["body"])
    calls = answer.choices[0].message.tool_calls or []
    with pytest.raises(pydantic.ValidationError):
        Invoice.model_validate_json(calls[0].function.arguments)  # type: ignore[union-attr]


def test_openai_batch_cancelled_midway_marks_unfinished_lines_batch_cancelled(
    sim: BackgroundSimulator,
) -> None:
    configure(sim, batch_delay_s=3.0)
    client = openai_client(sim)
    uploaded = client.files.create(
        file=("c.jsonl", jsonl([jsonl_line(f"c{i}", chat_body()) for i in range(5)])),
        purpose="batch",
    )
    created = client.batches.create(
        input_file_id=uploaded.id, endpoint="/v1/chat/completions", completion_window="24h"
    )
    assert client.batches.cancel(created.id).status == "cancelling"
    ended = poll(lambda: client.batches.retrieve(created.id), lambda b: b.status in ENDED)
    assert ended.status == "cancelled"
    assert ended.cancelled_at is not None
    lines = file_lines(client, ended.error_file_id)
    assert {line["error"]["code"] for line in lines} == {"batch_cancelled"}
    assert len(lines) == 5
    assert billed_items(sim) == []
    with pytest.raises(openai.ConflictError):
        client.batches.cancel(created.id)


def test_openai_batch_list_pages_newest_first_by_after(sim: BackgroundSimulator) -> None:
    configure(sim, batch_delay_s=0)
    client = openai_client(sim)
    made = [run_batch(client, [jsonl_line("a", chat_body())])[1].id for _ in range(3)]
    first = client.batches.list(limit=2)
    assert [b.id for b in first.data] == made[::-1][:2]
    assert first.has_more is True
    listed = [b.id for b in client.batches.list(limit=2)]  # auto-paginates with `after`
    assert listed[:3] == made[::-1]
