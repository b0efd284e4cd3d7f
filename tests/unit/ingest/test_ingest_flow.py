"""`run_ingest` against an in-memory API: one batch, one row per input, one id printed."""

from __future__ import annotations

import csv
import hashlib
import json
import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from schemas.batch_api import BatchCreate
from scripts.client import Client as ApiClient
from scripts.ingest import run as ingest
from scripts.ingest.exports import ExportError
from scripts.ingest.progress import paused

SCHEMA = {"type": "object", "properties": {"title": {"type": "string"}}}


class FakeApi:
    """The batch API's idempotency rules: a key resumes its batch, a document key is once."""

    def __init__(self) -> None:
        self.jobs: dict[str, dict[str, Any]] = {}  # document key -> results line
        self.batches: dict[str, list[str]] = {}  # batch id -> document keys
        self.posts: list[tuple[str | None, dict[str, Any]]] = []

    def handle(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path == "/v1/extractors/summary":
            return httpx.Response(200, json={"name": "summary", "latest_version": 3})
        if path == "/v1/extractors/summary/versions/3":
            return httpx.Response(200, json={"json_schema": SCHEMA})
        if request.method == "POST":
            try:
                return httpx.Response(202, json=self.post(request))
            except ValidationError as exc:
                error = {"type": "invalid_request", "message": str(exc)}
                return httpx.Response(422, json={"error": error})
        batch_id = path.split("/")[3]
        if path.endswith("/results"):
            lines = [json.dumps(self.jobs[k]) for k in self.batches[batch_id]]
            return httpx.Response(200, text="\n".join(lines))
        total = len(self.batches[batch_id])
        return httpx.Response(
            200,
            json={
                "id": batch_id,
                "total": total,
                "counts": {"succeeded": total},
                "usage": {"input_tokens": 0, "output_tokens": 0, "cost_usd": "0"},
                "finished_at": "2026-01-01T00:00:00Z",
                "killswitch": None,
            },
        )

    def post(self, request: httpx.Request) -> dict[str, Any]:
        key = request.headers.get("idempotency-key")
        body = json.loads(request.content)
        BatchCreate.model_validate(body)  # the server's rules: a bad document fails it all
        self.posts.append((key, body))
        batch_id = hashlib.sha256(str(key).encode()).hexdigest()[:8]
        keys = self.batches.setdefault(batch_id, [])
        created, elsewhere = 0, set()
        for doc in body["documents"]:
            owner = next((b for b, ks in self.batches.items() if doc["key"] in ks), None)
            if owner is None:
                keys.append(doc["key"])
                self.jobs[doc["key"]] = line(doc, len(self.jobs))
                created += 1
            elif owner != batch_id:
                elsewhere.add(owner)
        return {
            "id": batch_id,
            "total": len(keys),
            "created": created,
            "duplicates": len(body["documents"]) - created,
            "duplicate_batches": sorted(elsewhere),
        }


def line(doc: dict[str, Any], n: int) -> dict[str, Any]:
    """The results line the fake's job for `doc` has."""
    return {
        "id": f"job-{n}",
        "key": doc["key"],
        "filename": doc.get("filename"),
        "status": "succeeded",
        "result": {"title": f"title {n}"},
        "error": None,
        "metadata": doc.get("metadata", {}),
        "usage": {"input_tokens": 1, "output_tokens": 1, "cost_usd": "0.001"},
    }


def run(api: FakeApi, paths: list[str], out: Path | None = None, **kw: Any) -> None:
    """`docqueue ingest PATHS --schema summary --batch-size 2` against the fake."""
    with ApiClient(
        base_url="http://api", api_key="k", transport=httpx.MockTransport(api.handle)
    ) as client:
        ingest.run_ingest(
            client, paths, schema="summary", tier="auto", batch_size=2, wait=False,
            out_path=out, **kw,
        )  # fmt: skip


def folder(root: Path) -> Path:
    """Three unique documents (a.txt copied twice), one without an extension, two skips."""
    root.mkdir()
    for name, content in {
        "a.txt": b"alpha", "b.txt": b"bravo", "c.txt": b"alpha", "d.txt": b"alpha",
        "e": b"echo without an extension", "empty.txt": b"", ".DS_Store": b"\x00\x01Bud1",
    }.items():  # fmt: skip
        (root / name).write_bytes(content)
    return root


def test_every_request_of_an_ingest_goes_to_one_batch_and_one_id_is_printed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    api = FakeApi()
    out = tmp_path / "results.csv"
    run(api, [str(folder(tmp_path / "docs"))], out)
    keys = {key for key, _ in api.posts}
    assert len(api.posts) == 2  # 3 documents, 2 per request
    assert len(keys) == 1
    assert all(body["schema"] == "summary@3" for _, body in api.posts)  # pinned
    (batch_id,) = api.batches
    printed = capsys.readouterr().out.strip().splitlines()
    assert printed[-1] == f"batch: {batch_id}"
    text = "\n".join(printed)
    assert re.search(r"duplicates of other paths here\W+2\W", text), text
    assert re.search(r"new jobs\W+3\W", text), text
    with out.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [(Path(r["path"]).name, r["status"], Path(r["duplicate_of"]).name) for r in rows] == [
        (".DS_Store", "skipped", ""),
        ("a.txt", "succeeded", ""),
        ("b.txt", "succeeded", ""),
        ("c.txt", "succeeded", "a.txt"),
        ("d.txt", "succeeded", "a.txt"),
        ("e", "succeeded", ""),
        ("empty.txt", "skipped", ""),
    ]
    assert rows[3]["job_id"] == rows[4]["job_id"] == rows[1]["job_id"]
    assert [r["cost_usd"] for r in rows[1:5]] == ["0.001", "0.001", "0", "0"]  # once per job
    assert rows[6]["error_message"] == "empty file"
    assert list(rows[0])[-1] == "result.title"  # the schema's field
    # The same command again: the same batch, nothing created.
    run(api, [str(tmp_path / "docs")])
    assert {key for key, _ in api.posts} == keys
    assert len(api.jobs) == 3
    assert capsys.readouterr().out.strip().splitlines()[-1] == f"batch: {batch_id}"


def test_documents_of_an_earlier_batch_are_sent_before_and_their_results_fetched(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    api = FakeApi()
    (tmp_path / "one").mkdir()
    (tmp_path / "one" / "a.txt").write_text("alpha")
    run(api, [str(tmp_path / "one")])
    (tmp_path / "two").mkdir()
    (tmp_path / "two" / "a.txt").write_text("alpha")
    (tmp_path / "two" / "b.txt").write_text("bravo")
    out = tmp_path / "r.jsonl"
    run(api, [str(tmp_path / "two")], out)
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [line["input_state"] for line in lines] == ["sent_before", "sent"]
    assert lines[0]["id"] == "job-0"
    text = capsys.readouterr().out
    assert re.search(r"already processed in earlier batches\W+1\W", text), text
    assert re.search(r"cost \(this batch\)\W+\$0\.001000\W", text), text  # b.txt only
    assert re.search(r"cost \(earlier batches\)\W+\$0\.001000\W", text), text


def test_an_out_file_of_another_kind_is_refused_before_anything_is_sent(tmp_path: Path) -> None:
    api = FakeApi()
    with pytest.raises(ExportError, match=r"not \.json"):
        run(api, [str(folder(tmp_path / "docs"))], tmp_path / "results.json")
    assert api.posts == []


def test_a_run_name_keeps_one_batch_when_the_files_change(tmp_path: Path) -> None:
    api = FakeApi()
    docs = folder(tmp_path / "docs")
    run(api, [str(docs)], run_name="march")
    (docs / "f.txt").write_text("foxtrot")
    run(api, [str(docs)], run_name="march")
    assert len(api.batches) == 1
    assert len({key for key, _ in api.posts}) == 1
    run(api, [str(docs)])  # unnamed: the changed manifest is another ingest
    assert len(api.batches) == 2


def test_the_progress_line_says_paused_while_the_kill_switch_is_on() -> None:
    assert paused({"killswitch": {"on": True, "reason": "cli", "since": "x"}}) == (
        "paused: kill switch on (cli)"
    )
    assert paused({"killswitch": {"on": False, "reason": None, "since": None}}) is None
    assert paused({"killswitch": None}) is None
    assert paused({}) is None
