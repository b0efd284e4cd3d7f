"""Pure parts of the extractor, rerun and diff commands, and their API client calls."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from scripts.client import Client, DocqueueError, WaitTimeoutError
from scripts.commands import extractors, inference, reruns
from scripts.ingest.sources import SourceError

Handler = Callable[[httpx.Request], httpx.Response]
SUMMARY: dict[str, Any] = {
    "batch_id": "new",
    "against": "old",
    "documents": 3,
    "compared": 3,
    "changed_documents": 2,
    "fields": {
        "total_claimed": {"changed": 1, "added": 0, "removed": 0},
        "adjuster": {"changed": 0, "added": 3, "removed": 0},
        "claimant.email": {"changed": 0, "added": 0, "removed": 1},
    },
}


def client(handler: Handler, slept: list[float] | None = None) -> Client:
    """A client on a mock transport that records its sleeps instead of sleeping."""
    return Client(
        "http://api",
        "dq_0123abcd_testkey",
        max_retries=2,
        transport=httpx.MockTransport(handler),
        sleep=(slept if slept is not None else []).append,
    )


def test_diff_rows_put_the_most_changed_field_first_and_totals_sum_every_kind() -> None:
    rows = reruns.diff_rows(SUMMARY)
    assert rows == [
        ("adjuster", 0, 3, 0),
        ("claimant.email", 0, 0, 1),
        ("total_claimed", 1, 0, 0),
    ]
    assert reruns.diff_totals(rows) == ("total", 1, 3, 1)
    assert reruns.diff_rows({"fields": {}}) == []
    assert reruns.diff_totals([]) == ("total", 0, 0, 0)


def test_the_diff_caption_says_how_many_compared_documents_differ() -> None:
    assert reruns.diff_caption(SUMMARY) == "2 of 3 compared documents differ (3 documents in new)"


def test_extractor_rows_list_the_tenants_own_before_the_built_ins() -> None:
    rows = extractors.extractor_rows(
        [
            {"name": "invoice", "owner": "system", "latest_version": 1, "archived": False},
            {"name": "zeta", "owner": "tenant", "latest_version": 4, "archived": True},
            {"name": "claims", "owner": "tenant", "latest_version": 2, "description": "Claims"},
        ]
    )
    assert rows == [
        ("claims", "tenant", "@2", "no", "Claims"),
        ("zeta", "tenant", "@4", "yes", ""),
        ("invoice", "system", "@1", "no", ""),
    ]


def test_create_body_reads_the_files_and_defaults_the_description_to_the_schemas(
    tmp_path: Path,
) -> None:
    schema = {"type": "object", "description": "Claim forms", "properties": {}}
    (tmp_path / "s.json").write_text(json.dumps(schema))
    (tmp_path / "notes.md").write_text("Dates are YYYY-MM-DD.")
    body = extractors.create_body("claims", tmp_path / "s.json", tmp_path / "notes.md", None)
    assert body == {
        "name": "claims",
        "description": "Claim forms",
        "json_schema": schema,
        "instructions": "Dates are YYYY-MM-DD.",
    }
    given = extractors.create_body("claims", tmp_path / "s.json", None, "Mine")
    assert (given["description"], given["instructions"]) == ("Mine", None)


@pytest.mark.parametrize(
    ("content", "reason"),
    [("{oops", "not JSON"), ("[1, 2]", "is an object"), (None, "cannot read")],
)
def test_a_schema_file_that_is_missing_or_not_a_json_object_is_refused_with_its_name(
    tmp_path: Path, content: str | None, reason: str
) -> None:
    path = tmp_path / "s.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(extractors.FileProblem, match=reason) as caught:
        extractors.create_body("x", path, None, None)
    assert "s.json" in str(caught.value)


def test_a_new_version_is_created_and_the_same_content_again_is_unchanged() -> None:
    answers = iter([201, 200])

    def handler(request: httpx.Request) -> httpx.Response:
        assert json.loads(request.content)["name"] == "claims"
        return httpx.Response(next(answers), json={"name": "claims", "version": 2})

    with client(handler) as api:
        lines = [extractors.created_line(*api.create_extractor({"name": "claims"}))]
        lines.append(extractors.created_line(*api.create_extractor({"name": "claims"})))
    assert lines == ["created claims@2", "unchanged claims@2"]


def test_a_schema_invalid_answer_keeps_its_pointer_and_is_told_once() -> None:
    error = {
        "type": "schema_invalid",
        "message": "/properties/x/pattern: needs backtracking",
        "pointer": "/properties/x/pattern",
    }

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(422, json={"error": error})

    with client(handler) as api, pytest.raises(DocqueueError) as caught:
        api.create_extractor({"name": "x"})
    assert caught.value.detail["pointer"] == "/properties/x/pattern"
    line = extractors.schema_problem(caught.value)
    assert line == "schema_invalid at /properties/x/pattern: needs backtracking"
    error["message"] = "backreferences are refused"
    with client(handler) as api, pytest.raises(DocqueueError) as again:
        api.create_extractor({"name": "x"})
    assert extractors.schema_problem(again.value).endswith("pattern: backreferences are refused")


def test_a_rerun_is_re_sent_after_a_5xx_with_the_same_idempotency_key() -> None:
    statuses = iter([500, 429, 201])
    keys: list[str | None] = []

    def handler(request: httpx.Request) -> httpx.Response:
        keys.append(request.headers.get("idempotency-key"))
        status = next(statuses)
        return httpx.Response(status, json={"id": "b2"} if status == 201 else {})

    slept: list[float] = []
    with client(handler, slept) as api:
        assert api.rerun_batch("b1", "claims@2") == {"id": "b2"}
    assert len(keys) == 3
    assert keys[0] is not None
    assert keys[0].startswith("rerun-")
    assert len(set(keys)) == 1  # a replay the API answers with the first batch
    assert len(slept) == 2


def test_reads_are_still_retried_after_a_5xx() -> None:
    statuses = iter([502, 200])

    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.params["format"] == "summary"
        return httpx.Response(next(statuses), json=SUMMARY)

    with client(handler) as api:
        assert api.diff_summary("new", "old") == SUMMARY


def test_diff_lines_stream_every_document_then_the_summary() -> None:
    lines = [{"type": "document", "job_id": "j1", "changes": []}, {"type": "summary"}]

    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.params["against"] == "old"
        assert "format" not in request.url.params
        body = "\n".join(json.dumps(line) for line in lines) + "\n\n"
        return httpx.Response(200, text=body)

    with client(handler) as api:
        assert list(api.diff_lines("new", "old")) == lines


def test_infer_samples_send_text_or_base64_with_the_bare_filename(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("Claim CLM-000001")
    (tmp_path / "b.pdf").write_bytes(b"%PDF-1.4 binary")
    samples = inference.infer_samples([str(tmp_path)])
    assert samples == [
        {"text": "Claim CLM-000001", "filename": "a.txt"},
        {"content_base64": base64.b64encode(b"%PDF-1.4 binary").decode(), "filename": "b.pdf"},
    ]


def test_more_than_five_samples_are_refused_before_anything_is_sent(tmp_path: Path) -> None:
    for i in range(6):
        (tmp_path / f"{i}.txt").write_text(f"sample {i}")
    with pytest.raises(SourceError, match="1 to 5 sample documents"):
        inference.infer_samples([str(tmp_path)])


class Clock:
    """A fake monotonic clock that sleeping advances."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def read(self) -> float:
        """The fake time."""
        return self.now


def test_a_running_inference_is_polled_until_its_schema_is_there() -> None:
    polls = iter(
        [
            {"job_id": "i1", "status": "running"},
            {"job_id": "i1", "status": "succeeded", "json_schema": {"type": "object"}},
        ]
    )

    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/v1/extractors/infer/i1"
        return httpx.Response(200, json=next(polls))

    clock = Clock()
    with client(handler) as api:
        done = inference.wait_for_schema(
            api,
            {"job_id": "i1", "status": "queued"},
            timeout_s=60,
            sleep=clock.sleep,
            clock=lambda: clock.now,
        )
    assert done["json_schema"] == {"type": "object"}
    assert clock.sleeps == [0.5, 0.75]  # backing off


def test_an_inference_that_never_finishes_stops_at_the_timeout_with_its_job_id() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"job_id": "i9", "status": "running"})

    clock = Clock()
    with (
        client(handler) as api,
        pytest.raises(WaitTimeoutError, match="i9 still running") as caught,
    ):
        inference.wait_for_schema(
            api,
            {"job_id": "i9", "status": "running"},
            timeout_s=30,
            sleep=clock.sleep,
            clock=lambda: clock.now,
        )
    assert caught.value.type == "timeout"
    assert clock.now <= 30
    assert max(clock.sleeps) == inference.MAX_POLL_S


def test_a_failed_inference_says_why() -> None:
    failed = {
        "job_id": "i2",
        "status": "failed",
        "error": {"type": "budget_exceeded", "message": "monthly budget spent"},
    }
    why = "budget_exceeded: monthly budget spent"
    with client(lambda r: httpx.Response(500)) as api, pytest.raises(DocqueueError, match=why):
        inference.wait_for_schema(api, failed, timeout_s=5)


def test_the_cost_is_shown_to_six_places_whatever_its_json_type() -> None:
    assert inference.cost_text({"cost_usd": "0.0012"}) == "$0.001200"
    assert inference.cost_text({"cost_usd": 0.5}) == "$0.500000"
    assert inference.cost_text({}) == "$-"


def test_the_schema_file_is_written_as_indented_json(tmp_path: Path) -> None:
    path = tmp_path / "schema.json"
    inference.write_schema(path, {"type": "object", "description": "Réclamation"})
    assert json.loads(path.read_text()) == {"type": "object", "description": "Réclamation"}
    assert "Réclamation" in path.read_text()
    assert not (tmp_path / "schema.json.part").exists()


def test_each_inference_poll_gets_only_the_time_left_before_the_timeout() -> None:
    clock = Clock()
    given: list[tuple[float, float]] = []  # (time left on the fake clock, the read timeout)

    def handler(request: httpx.Request) -> httpx.Response:
        given.append((30 - clock.now, request.extensions["timeout"]["read"]))
        return httpx.Response(200, json={"job_id": "i3", "status": "running"})

    running = {"job_id": "i3", "status": "running"}
    with client(handler) as api, pytest.raises(WaitTimeoutError):
        inference.wait_for_schema(api, running, timeout_s=30, sleep=clock.sleep, clock=clock.read)
    assert given
    assert all(read <= max(left, 1.0) + 0.01 for left, read in given), given
