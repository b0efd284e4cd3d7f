"""Reading a labels file, and matching each label to its result line."""

from __future__ import annotations

import json
from typing import Any

import pytest

from scripts.evals.labels import Label, LabelFileError, match_labels, parse_label, read_labels


def result(job_id: str, key: str | None = None, filename: str | None = None) -> dict[str, Any]:
    """One line of GET /v1/batches/{id}/results."""
    return {"id": job_id, "key": key, "filename": filename, "status": "succeeded", "result": {}}


def test_a_labels_file_is_read_line_by_line_skipping_blank_lines() -> None:
    lines = [
        json.dumps({"job_id": "j1", "labels": {"total": 1}}),
        "   ",
        json.dumps({"key": "doc:k2", "filename": "b.txt", "labels": {}}),
    ]
    assert read_labels(lines) == [
        Label(line=1, labels={"total": 1}, job_id="j1"),
        # the stored prefix of a document key is dropped, as the batch results drop it
        Label(line=3, labels={}, key="k2", filename="b.txt"),
    ]


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("{not json", "line 7: not JSON"),
        ("[1, 2]", "line 7: a label line is a JSON object"),
        ('{"key": "k"}', 'line 7: "labels" must be an object'),
        ('{"key": "k", "labels": [1]}', 'line 7: "labels" must be an object'),
        ('{"labels": {"a": 1}}', "line 7: name the document by job_id, key or filename"),
        ('{"key": ["k"], "labels": {}}', "line 7: key must be a string"),
        ('{"job_id": true, "labels": {}}', "line 7: job_id must be a string"),
    ],
)
def test_a_line_that_is_not_a_label_is_refused_with_its_line_number(
    text: str, problem: str
) -> None:
    with pytest.raises(LabelFileError) as caught:
        parse_label(text, 7)
    assert str(caught.value).startswith(problem)


def test_a_numeric_key_is_read_as_text() -> None:
    label = parse_label('{"key": 42, "labels": {}}', 1)
    assert label is not None
    assert label.key == "42"


def test_labels_match_by_job_id_else_key_else_filename() -> None:
    labels = [
        Label(line=1, labels={}, job_id="j1", key="k3"),  # its job id wins over its key
        Label(line=2, labels={}, job_id="old-job", key="k2"),  # a rerun: the key finds it
        Label(line=3, labels={}, filename="c.txt"),
        Label(line=4, labels={}, key="doc:k4"),  # the stored form of a key matches too
    ]
    results = [
        result("j1", "k1", "a.txt"),
        result("j2", "k2", "b.txt"),
        result("j3", "k3", "c.txt"),
        result("j4", "doc:k4"),
    ]
    matched = match_labels(labels, iter(results))
    assert [(label.line, line["id"]) for label, line in matched.pairs] == [
        (1, "j1"),
        (2, "j2"),
        (3, "j3"),
        (4, "j4"),
    ]
    assert matched.missing == []


def test_labels_no_result_matches_are_reported_missing_with_the_reason() -> None:
    labels = [
        Label(line=1, labels={}, job_id="gone"),
        Label(line=2, labels={}, filename="same.txt"),
        Label(line=3, labels={}, key="k1"),
    ]
    results = [result("j1", "k1", "same.txt"), result("j2", "k2", "same.txt")]
    matched = match_labels(labels, results)
    assert [label.line for label, _ in matched.pairs] == [3]
    assert matched.missing == [
        {"line": 1, "job_id": "gone", "reason": "no result in the batch"},
        {"line": 2, "filename": "same.txt", "reason": "2 results have this filename"},
    ]


def test_only_the_result_lines_a_label_could_match_are_kept() -> None:
    from scripts.evals.labels import ResultIndex

    index = ResultIndex([Label(line=1, labels={}, key="k7")])
    for n in range(100):
        index.add(result(f"j{n}", f"k{n}", f"f{n}.txt"))
    assert list(index.by_key) == ["k7"]
    assert index.by_id == {}
    assert index.by_filename == {}
