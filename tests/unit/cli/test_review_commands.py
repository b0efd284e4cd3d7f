"""`docqueue review list`, `approve` and `export`, and the client calls behind them."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import typer
from typer.testing import CliRunner

from scripts.cli import app
from scripts.client import Client
from scripts.commands import common, review
from tests.support.cli import Handler, answers, mock_client, pages

FIELDS = [
    {"path": "/total", "confidence": 0.31},
    {"path": "/vendor/name", "confidence": 0.55},
    {"path": "/currency", "confidence": 0.97},
]


Serve = Callable[[Handler], None]


@pytest.fixture
def serve(monkeypatch: pytest.MonkeyPatch) -> Serve:
    """Route the commands' requests to the handler it is given."""

    def use(handler: Handler) -> None:
        def client(retries: int) -> Client:
            return mock_client(handler, max_retries=max(1, retries) - 1)

        monkeypatch.setattr(common, "api_client", client)

    return use


def test_a_review_row_names_the_fields_below_the_threshold_lowest_first() -> None:
    item = {"id": "j1", "filename": "a.pdf", "confidence": 0.31, "fields": FIELDS}
    assert review.review_row(item) == ("j1", "a.pdf", "0.31", "/total (0.31), /vendor/name (0.55)")
    assert review.review_row(item, below=0.5) == ("j1", "a.pdf", "0.31", "/total (0.31)")
    assert review.review_row({"id": "j2", "fields": FIELDS[2:]}) == ("j2", "-", "0.97", "-")


def test_a_review_row_counts_the_low_fields_it_does_not_name() -> None:
    fields = [{"path": f"/f{n}", "confidence": n / 100} for n in range(8)]
    row = review.review_row({"id": "j", "fields": fields})
    assert row[2] == "0.00"  # no job confidence given: the lowest field's
    assert row[3].endswith("/f4 (0.04), +3 more")


def test_set_options_are_pointers_with_json_values_or_plain_text() -> None:
    assert review.parse_sets(["/total=12.5", "/vendor/name=Acme GmbH", '/note="a=b"']) == {
        "/total": 12.5,
        "/vendor/name": "Acme GmbH",
        "/note": "a=b",
    }
    assert review.parse_sets(["/lines=[]", "/due=null"]) == {"/lines": [], "/due": None}
    for bad in ("total=1", "/total"):
        with pytest.raises(typer.BadParameter):
            review.parse_sets([bad])


def test_review_approve_posts_the_corrections_and_says_the_new_state(serve: Serve) -> None:
    handler, seen = answers(httpx.Response(200, json={"id": "j1", "review_state": "corrected"}))
    serve(handler)
    done = CliRunner().invoke(app, ["review", "approve", "j1", "--set", "/total=12.5"])
    assert done.exit_code == 0, done.output
    assert done.stdout == "job j1: corrected, 1 correction(s)\n"
    (request,) = seen
    assert (request.method, request.url.path) == ("POST", "/v1/jobs/j1/review")
    assert json.loads(request.content) == {"corrections": {"/total": 12.5}, "approve": True}


def test_review_approve_without_approving_only_corrects(serve: Serve) -> None:
    handler, seen = answers(httpx.Response(200, json={"id": "j1", "review_state": "pending"}))
    serve(handler)
    done = CliRunner().invoke(app, ["review", "approve", "j1", "--no-approve", "--set", "/a=1"])
    assert done.exit_code == 0, done.output
    assert json.loads(seen[0].content) == {"corrections": {"/a": 1}, "approve": False}


def test_a_malformed_set_is_a_usage_error_before_any_request(serve: Serve) -> None:
    handler, seen = answers()
    serve(handler)
    done = CliRunner().invoke(app, ["review", "approve", "j1", "--set", "total=1"])
    assert done.exit_code == 2
    assert seen == []


def test_review_list_shows_each_pending_job_and_how_many_wait(serve: Serve) -> None:
    first, second = pages(
        [{"id": "j1", "filename": "a.pdf", "confidence": 0.31, "fields": FIELDS}],
        [{"id": "j2", "filename": "b.pdf", "confidence": 0.97, "fields": FIELDS[2:]}],
        key="items",
    )
    first = httpx.Response(200, json={**first.json(), "pending": 2})
    handler, seen = answers(first, second)
    serve(handler)
    done = CliRunner().invoke(
        app, ["review", "list", "--batch", "b1", "--extractor", "invoice"], env={"COLUMNS": "200"}
    )
    assert done.exit_code == 0, done.output
    rows = [[c.strip() for c in line.split("│")[1:-1]] for line in done.stdout.splitlines()]
    assert [r for r in rows if r] == [
        ["j1", "a.pdf", "0.31", "/total (0.31), /vendor/name (0.55)"],
        ["j2", "b.pdf", "0.97", "-"],
    ]
    assert "2 pending" in done.stdout
    assert dict(seen[0].url.params) == {"batch_id": "b1", "extractor": "invoice", "limit": "50"}
    assert dict(seen[1].url.params)["cursor"] == "c1"


def test_review_list_stops_at_its_limit_without_the_next_page(serve: Serve) -> None:
    (page,) = pages([{"id": "j1"}, {"id": "j2"}], key="items")
    more = httpx.Response(200, json={**page.json(), "next_cursor": "c9", "pending": 9})
    handler, seen = answers(more)
    serve(handler)
    done = CliRunner().invoke(app, ["review", "list", "--limit", "2", "--json"])
    assert done.exit_code == 0, done.output
    body = json.loads(done.stdout)
    assert body["pending"] == 9
    assert [i["id"] for i in body["items"]] == ["j1", "j2"]
    assert len(seen) == 1


def label_item(n: int, **over: Any) -> dict[str, Any]:
    """One item of GET /v1/review/labels."""
    item = {
        "job_id": f"j{n}",
        "batch_id": "b1",
        "idempotency_key": f"doc:k{n}",
        "filename": f"f{n}.txt",
        "extractor": "invoice",
        "version": 1,
        "review_state": "approved",
        "result": {"total": n},
        "reviewed_at": "2026-05-01T10:00:00Z",
    }
    return {**item, **over}


def test_review_export_writes_one_label_line_per_reviewed_job(serve: Serve, tmp_path: Path) -> None:
    handler, seen = answers(
        *pages([label_item(1), label_item(2, result=None)], [label_item(3)], key="items")
    )
    serve(handler)
    out = tmp_path / "labels.jsonl"
    done = CliRunner().invoke(
        app, ["review", "export", "--extractor", "invoice", "--out", str(out)]
    )
    assert done.exit_code == 0, done.output
    assert done.stdout == f"wrote 2 label(s) to {out}\n"
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert lines == [
        {"key": "k1", "filename": "f1.txt", "job_id": "j1", "labels": {"total": 1}},
        {"key": "k3", "filename": "f3.txt", "job_id": "j3", "labels": {"total": 3}},
    ]
    assert [r.url.path for r in seen] == ["/v1/review/labels"] * 2
    assert dict(seen[0].url.params) == {"extractor": "invoice", "limit": "100"}
    assert not (tmp_path / "labels.jsonl.part").exists()


def test_an_export_that_breaks_off_leaves_no_labels_file(serve: Serve, tmp_path: Path) -> None:
    broken = httpx.Response(400, json={"error": {"type": "bad", "message": "no"}})
    handler, _ = answers(pages([label_item(1)], [label_item(2)], key="items")[0], broken)
    serve(handler)
    out = tmp_path / "labels.jsonl"
    done = CliRunner().invoke(app, ["review", "export", "--extractor", "invoice", "-o", str(out)])
    assert done.exit_code == 1
    assert list(tmp_path.iterdir()) == []


def test_exported_labels_score_their_own_results_perfectly(serve: Serve, tmp_path: Path) -> None:
    from scripts.commands.evals import read_label_file
    from scripts.evals.labels import match_labels
    from scripts.evals.report import evaluate
    from scripts.evals.schema_rules import SchemaView
    from scripts.evals.scoring import Scorer

    items = [label_item(1), label_item(2)]
    out = tmp_path / "labels.jsonl"
    assert review.write_labels(out, items) == 2
    results = [
        {"id": f"r{n}", "key": f"k{n}", "status": "succeeded", "result": {"total": n}}
        for n in (1, 2)
    ]  # a rerun: new job ids, the same document keys
    labels = read_label_file(out)
    report = evaluate("b2", labels, match_labels(labels, results), Scorer(SchemaView({})))
    assert (report.matched, report.overall) == (2, 1.0)


def test_review_job_and_the_queue_call_their_routes(serve: Serve) -> None:
    queue = pages([{"id": "j1"}], [{"id": "j2"}], key="items")
    handler, seen = answers(*queue, httpx.Response(200, json={"id": "j1"}))
    with mock_client(handler) as api:
        assert [i["id"] for i in api.review_queue(extractor="invoice", limit=5)] == ["j1", "j2"]
        assert api.review_job("a/b", {"/x": 1}) == {"id": "j1"}
    assert dict(seen[0].url.params) == {"extractor": "invoice", "limit": "5"}
    assert seen[2].url.raw_path == b"/v1/jobs/a%2Fb/review"


@pytest.mark.parametrize("command", ["eval", "review list", "review approve", "review export"])
def test_each_new_command_is_registered_with_its_own_usage_line(command: str) -> None:
    done = CliRunner().invoke(
        app, [*command.split(), "--help"], env={"COLUMNS": "120"}, prog_name="docqueue"
    )
    assert done.exit_code == 0, done.output
    assert f"Usage: docqueue {command} " in done.output
