"""Scores per field over a batch, the JSON report and the table."""

from __future__ import annotations

import io
from typing import Any

import pytest
from rich.console import Console

from scripts.evals.labels import Label, match_labels
from scripts.evals.report import caption, evaluate, field_scores, missing_lines, report_table
from scripts.evals.schema_rules import SchemaView
from scripts.evals.scoring import Scorer

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "vendor": {
            "type": "object",
            "properties": {"name": {"type": "string"}, "tax/id": {"type": "string"}},
        },
        "total": {"type": "number"},
        "issued": {"type": "string", "format": "date"},
        "items": {"type": "array", "items": {"type": "object"}},
    },
}


def scorer() -> Scorer:
    """A scorer under SCHEMA."""
    return Scorer(SchemaView(SCHEMA))


def test_every_labelled_leaf_is_scored_at_its_json_pointer() -> None:
    label = {
        "vendor": {"name": "ACME", "tax/id": "DE1"},
        "total": 10,
        "items": [{"sku": "a"}],
        "extra": None,  # undescribed, labelled null
        "issued": {},  # an object where the schema wants a date: a leaf, and wrong
    }
    predicted = {"vendor": {"name": "acme"}, "total": 10.001, "items": [{"sku": "A", "n": 1}]}
    scores = list(field_scores(scorer(), SchemaView(SCHEMA).top(), label, predicted))
    assert scores == [
        ("/vendor/name", "string", 1.0),
        ("/vendor/tax~1id", "string", 0.0),  # labelled, absent from the result
        ("/total", "number", 1.0),
        ("/items", "set_f1", 1.0),  # one field for the whole list, no index
        ("/extra", "exact", 1.0),
        ("/issued", "date", 0.0),
    ]


def test_an_empty_object_label_labels_nothing() -> None:
    scores = list(field_scores(scorer(), SchemaView(SCHEMA).top(), {"vendor": {}}, {}))
    assert scores == []


def report_for(labels: list[Label], results: list[dict[str, Any]]) -> dict[str, Any]:
    """The JSON report of `labels` against `results`, batch b1."""
    return evaluate("b1", labels, match_labels(labels, results), scorer()).to_json()


def test_the_report_gives_each_fields_accuracy_over_the_documents_that_label_it() -> None:
    labels = [
        Label(line=1, labels={"total": 10, "vendor": {"name": "Acme"}}, key="a"),
        Label(line=2, labels={"total": 20}, key="b"),
        Label(line=3, labels={"total": 30, "vendor": {"name": "Zed"}}, key="c"),
        Label(line=4, labels={"total": 1}, key="nowhere"),
    ]
    results: list[dict[str, Any]] = [
        {"id": "j1", "key": "a", "status": "succeeded", "result": {"total": 10, "vendor": {}}},
        {"id": "j2", "key": "b", "status": "succeeded", "result": {"total": 20.5}},
        {"id": "j3", "key": "c", "status": "failed", "result": None},
    ]
    assert report_for(labels, results) == {
        "batch_id": "b1",
        "documents": 4,
        "matched": 3,
        "missing": [{"line": 4, "key": "nowhere", "reason": "no result in the batch"}],
        "fields": {
            "/total": {"rule": "number", "count": 3, "accuracy": pytest.approx(1 / 3)},
            "/vendor/name": {"rule": "string", "count": 2, "accuracy": 0.0},
        },
        # every scored value counts once: 1 right of 5
        "overall": pytest.approx(1 / 5),
    }


def test_a_report_with_nothing_scored_has_an_overall_accuracy_of_zero() -> None:
    report = report_for([Label(line=1, labels={}, key="a")], [{"id": "j", "key": "a"}])
    assert report["fields"] == {}
    assert report["overall"] == 0.0


def test_the_table_shows_each_field_the_overall_accuracy_and_what_was_missing() -> None:
    labels = [
        Label(line=1, labels={"total": 10}, key="a"),
        Label(line=2, labels={"total": 5}, key="b", filename="b.txt"),
    ]
    results = [{"id": "j1", "key": "a", "status": "failed", "result": None}]
    report = evaluate("b1", labels, match_labels(labels, results), scorer())
    out = io.StringIO()
    Console(file=out, width=200).print(report_table(report))
    text = out.getvalue()
    assert "accuracy of batch b1" in text
    rows = [[c.strip() for c in line.split("│")[1:-1]] for line in text.splitlines()]
    assert [r for r in rows if r] == [
        ["/total", "number", "1", "0.0%"],
        ["overall", "", "1", "0.0%"],
    ]
    assert caption(report) == (
        "1 of 2 labelled documents matched a result, 1 missing; "
        "1 matched job(s) did not succeed (their fields score 0)"
    )
    assert missing_lines(report) == [
        "missing: line 2 (key b, filename b.txt): no result in the batch"
    ]
