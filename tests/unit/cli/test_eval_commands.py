"""`docqueue eval` end to end through the real client on a fake transport."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from scripts.cli import app
from scripts.client import Client
from scripts.commands import common
from tests.support.cli import mock_client

SCHEMA: dict[str, Any] = {
    "type": "object",
    "$defs": {"line": {"type": "object", "properties": {"sku": {"type": "string"}}}},
    "properties": {
        "number": {"type": "string"},
        "total": {"type": "number"},
        "issued": {"type": "string", "format": "date"},
        "lines": {"type": "array", "items": {"$ref": "#/$defs/line"}},
    },
}
RESULTS = [
    {
        "id": "j1",
        "key": "inv-1",
        "filename": "a.txt",
        "status": "succeeded",
        "result": {"number": "A-1", "total": 10.0, "issued": "2026-01-02", "lines": []},
    },
    {
        "id": "j2",
        "key": "inv-2",
        "filename": "b.txt",
        "status": "succeeded",
        "result": {"number": "B-2", "total": 20.0, "issued": "2026-02-03", "lines": [{"sku": "x"}]},
    },
]


class FakeApi:
    """The three routes `docqueue eval` reads, and the requests it made."""

    def __init__(self, schema_ref: str = "invoice_lite@2") -> None:
        self.schema_ref = schema_ref
        self.finished_at: str | None = "2026-05-01T10:00:00Z"
        self.paths: list[str] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        self.paths.append(path)
        if path == "/v1/batches/b1":
            batch = {"id": "b1", "schema": self.schema_ref, "finished_at": self.finished_at}
            return httpx.Response(200, json=batch)
        if path == "/v1/batches/b1/results":
            body = "".join(json.dumps(r) + "\n" for r in RESULTS)
            return httpx.Response(200, text=body, headers={"content-type": "application/x-ndjson"})
        if path == "/v1/extractors/invoice_lite":
            return httpx.Response(200, json={"name": "invoice_lite", "latest_version": 2})
        if path == "/v1/extractors/invoice_lite/versions/2":
            return httpx.Response(200, json={"name": "invoice_lite", "json_schema": SCHEMA})
        return httpx.Response(404, json={"error": {"type": "not_found", "message": path}})


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> FakeApi:
    """Commands get a client whose requests go to a FakeApi."""
    api = FakeApi()

    def client(retries: int) -> Client:
        return mock_client(api, max_retries=max(1, retries) - 1)

    monkeypatch.setattr(common, "api_client", client)
    return api


def write_lines(path: Path, *lines: dict[str, Any]) -> Path:
    """A labels file of these lines."""
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    return path


def test_eval_scores_each_labelled_field_and_writes_the_json_report(
    fake: FakeApi, tmp_path: Path
) -> None:
    labels = write_lines(
        tmp_path / "labels.jsonl",
        {"key": "inv-1", "labels": {"number": "a-1", "total": "10.004", "issued": "Jan 2, 2026"}},
        {"job_id": "j2", "labels": {"number": "B-3", "total": 20, "lines": [{"sku": "X"}]}},
        {"filename": "c.txt", "labels": {"total": 1}},
    )
    out = tmp_path / "report.json"
    done = CliRunner().invoke(
        app, ["eval", str(labels), "--batch", "b1", "--json", str(out)], env={"COLUMNS": "200"}
    )
    assert done.exit_code == 0, done.output
    assert json.loads(out.read_text()) == {
        "batch_id": "b1",
        "documents": 3,
        "matched": 2,
        "missing": [{"line": 3, "filename": "c.txt", "reason": "no result in the batch"}],
        "fields": {
            "/issued": {"rule": "date", "count": 1, "accuracy": 1.0},
            "/lines": {"rule": "set_f1", "count": 1, "accuracy": 1.0},
            "/number": {"rule": "string", "count": 2, "accuracy": 0.5},
            "/total": {"rule": "number", "count": 2, "accuracy": 1.0},
        },
        "overall": 5 / 6,
    }
    assert "83.3%" in done.stdout
    assert "missing: line 3 (filename c.txt): no result in the batch" in done.stderr
    assert fake.paths[:2] == ["/v1/batches/b1", "/v1/extractors/invoice_lite/versions/2"]
    assert "has not finished" not in done.stderr


def test_eval_of_an_unfinished_batch_says_so_and_still_scores(
    fake: FakeApi, tmp_path: Path
) -> None:
    fake.finished_at = None
    labels = write_lines(tmp_path / "l.jsonl", {"key": "inv-1", "labels": {"total": 10}})
    done = CliRunner().invoke(app, ["eval", str(labels), "--batch", "b1"], env={"COLUMNS": "200"})
    assert done.exit_code == 0, done.output
    assert "note: batch b1 has not finished" in done.stderr
    assert "100.0%" in done.stdout


def test_a_tighter_tolerance_makes_a_near_number_wrong(fake: FakeApi, tmp_path: Path) -> None:
    labels = write_lines(tmp_path / "l.jsonl", {"key": "inv-1", "labels": {"total": 10.004}})
    out = tmp_path / "r.json"
    args = ["eval", str(labels), "--batch", "b1", "--json", str(out), "--num-tolerance", "0.001"]
    assert CliRunner().invoke(app, args).exit_code == 0
    assert json.loads(out.read_text())["overall"] == 0.0
    relative = [*args, "--rel-tolerance", "0.01"]
    assert CliRunner().invoke(app, relative).exit_code == 0
    assert json.loads(out.read_text())["overall"] == 1.0


def test_a_bare_schema_name_is_scored_under_its_latest_version(
    fake: FakeApi, tmp_path: Path
) -> None:
    fake.schema_ref = "invoice_lite"
    labels = write_lines(tmp_path / "l.jsonl", {"key": "inv-2", "labels": {"issued": "3 Feb 2026"}})
    out = tmp_path / "r.json"
    assert (
        CliRunner()
        .invoke(app, ["eval", str(labels), "--batch", "b1", "--json", str(out)])
        .exit_code
        == 0
    )
    assert json.loads(out.read_text())["fields"]["/issued"] == {
        "rule": "date",
        "count": 1,
        "accuracy": 1.0,
    }
    assert "/v1/extractors/invoice_lite" in fake.paths


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ('{"key": "k", "labels": {}}\nnot json\n', "line 2: not JSON"),
        ("\n\n", "no label lines"),
    ],
)
def test_a_labels_file_that_cannot_be_used_is_one_error_line_and_exit_1(
    fake: FakeApi, tmp_path: Path, content: str, problem: str
) -> None:
    labels = tmp_path / "bad.jsonl"
    labels.write_text(content, encoding="utf-8")
    done = CliRunner().invoke(app, ["eval", str(labels), "--batch", "b1"])
    assert done.exit_code == 1
    assert done.stderr.startswith(f"error: {labels}: {problem}")
    assert fake.paths == []  # refused before any request


def test_a_labels_file_that_does_not_exist_is_one_error_line(fake: FakeApi, tmp_path: Path) -> None:
    done = CliRunner().invoke(app, ["eval", str(tmp_path / "none.jsonl"), "--batch", "b1"])
    assert done.exit_code == 1
    assert "cannot read it" in done.stderr


def test_an_unknown_batch_is_the_apis_error_on_one_line(fake: FakeApi, tmp_path: Path) -> None:
    labels = write_lines(tmp_path / "l.jsonl", {"key": "inv-1", "labels": {"total": 1}})
    done = CliRunner().invoke(app, ["eval", str(labels), "--batch", "nope"])
    assert done.exit_code == 1
    assert done.stderr.startswith("error: ")
    assert "not_found" in done.stderr
