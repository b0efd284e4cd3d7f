"""The diff view: results flattened to dotted fields, compared, and counted per field."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import Any

import pytest

from api.views import diff
from api.views.diff import DiffSummary, compare, flatten, lone_line, ndjson, pair_line, same
from storage.diffs import LoneJob, PairedJob, PairRow

BATCH, AGAINST = uuid.uuid4(), uuid.uuid4()


def _job(
    result: dict[str, Any] | None, status: str = "succeeded", name: str = "a.txt"
) -> PairedJob:
    return PairedJob(job_id=uuid.uuid4(), filename=name, status=status, result=result)


def _row(mine: PairedJob | None, theirs: PairedJob | None, sha: str = "ab" * 32) -> PairRow:
    return PairRow(document_sha256=sha, occurrence=1, job=mine, against=theirs)


def test_nested_objects_flatten_to_dotted_paths_and_lists_stay_whole() -> None:
    result = {"vendor": {"name": "ACME", "address": {"city": "Oslo"}}, "lines": [{"sku": 1}]}
    assert flatten(result) == {
        "vendor.name": "ACME",
        "vendor.address.city": "Oslo",
        "lines": [{"sku": 1}],
    }


def test_an_empty_object_is_a_value_so_it_differs_from_a_missing_field() -> None:
    assert flatten({"vendor": {}}) == {"vendor": {}}
    assert compare({}, {"vendor": {}}) == [
        {"field": "vendor", "change": "added", "before": None, "after": {}}
    ]


def test_a_result_that_is_not_an_object_is_one_value_at_the_root() -> None:
    assert flatten([1, 2]) == {diff.ROOT: [1, 2]}


def test_before_is_the_against_value_and_after_this_batchs() -> None:
    changes = compare({"total": 10, "currency": "EUR"}, {"total": 12, "currency": "EUR"})
    assert changes == [{"field": "total", "change": "changed", "before": 10, "after": 12}]


def test_a_field_only_this_batch_has_is_added_and_one_only_against_has_is_removed() -> None:
    changes = compare({"old": 1, "kept": 2}, {"new": 3, "kept": 2})
    assert changes == [
        {"field": "new", "change": "added", "before": None, "after": 3},
        {"field": "old", "change": "removed", "before": 1, "after": None},
    ]


def test_null_and_missing_are_different_but_null_and_null_are_the_same() -> None:
    assert compare({"due": None}, {}) == [
        {"field": "due", "change": "removed", "before": None, "after": None}
    ]
    assert compare({}, {"due": None}) == [
        {"field": "due", "change": "added", "before": None, "after": None}
    ]
    assert compare({"due": None}, {"due": None}) == []
    assert compare({"due": None}, {"due": "2024-01-01"})[0]["change"] == "changed"


def test_a_list_that_changes_in_one_item_is_one_change_of_the_whole_list() -> None:
    before = {"lines": [{"sku": "A", "qty": 1}, {"sku": "B", "qty": 2}]}
    after = {"lines": [{"sku": "A", "qty": 1}, {"sku": "B", "qty": 3}]}
    assert compare(before, after) == [
        {"field": "lines", "change": "changed", "before": before["lines"], "after": after["lines"]}
    ]
    assert compare(before, {"lines": list(reversed(before["lines"]))})[0]["field"] == "lines"


def test_a_nested_field_change_names_its_dotted_path_and_an_object_turning_scalar_is_both() -> None:
    before = {"vendor": {"name": "ACME", "vat": "NO1"}}
    after = {"vendor": "ACME"}
    assert compare(before, after) == [
        {"field": "vendor", "change": "added", "before": None, "after": "ACME"},
        {"field": "vendor.name", "change": "removed", "before": "ACME", "after": None},
        {"field": "vendor.vat", "change": "removed", "before": "NO1", "after": None},
    ]


@pytest.mark.parametrize(
    ("a", "b", "equal"),
    [
        (1, 1.0, True),
        (True, 1, False),
        (False, 0, False),
        ("1", 1, False),
        ([1, True], [1.0, True], True),
        ([1, 2], [1, 2, 3], False),
        ({"a": [1]}, {"a": [1]}, True),
        ({"a": 1}, {"b": 1}, False),
        (None, None, True),
        (None, 0, False),
    ],
)
def test_json_equality_tells_booleans_from_numbers_but_not_1_from_1_0(
    a: Any, b: Any, equal: bool
) -> None:
    assert same(a, b) is equal
    assert same(b, a) is equal


def test_a_boolean_that_becomes_a_number_is_a_change() -> None:
    assert compare({"paid": True}, {"paid": 1}) == [
        {"field": "paid", "change": "changed", "before": True, "after": 1}
    ]


def test_a_pair_without_changes_has_no_line_but_is_counted_as_compared() -> None:
    summary = DiffSummary()
    assert pair_line(_row(_job({"a": 1}), _job({"a": 1})), summary) is None
    assert (summary.documents, summary.compared, summary.changed_documents) == (1, 1, 0)


def test_a_pair_with_changes_lists_them_with_both_job_ids() -> None:
    summary = DiffSummary()
    mine, theirs = _job({"a": 2, "b": 1}), _job({"a": 1})
    line = pair_line(_row(mine, theirs), summary)
    assert line == {
        "type": "document",
        "document_sha256": "ab" * 32,
        "filename": "a.txt",
        "job_id": str(mine.job_id),
        "against_job_id": str(theirs.job_id),
        "changes": [
            {"field": "a", "change": "changed", "before": 1, "after": 2},
            {"field": "b", "change": "added", "before": None, "after": 1},
        ],
    }
    assert summary.fields == {
        "a": {"changed": 1, "added": 0, "removed": 0},
        "b": {"changed": 0, "added": 1, "removed": 0},
    }


@pytest.mark.parametrize(("mine", "theirs"), [("failed", "succeeded"), ("succeeded", "queued")])
def test_a_pair_with_a_job_that_has_not_succeeded_reports_statuses_and_counts_no_field(
    mine: str, theirs: str
) -> None:
    summary = DiffSummary()
    # the failed job's stale result must not be compared
    line = pair_line(_row(_job({"a": 1}, mine), _job({"a": 2}, theirs)), summary)
    assert line is not None
    assert (line["status"], line["against_status"]) == (mine, theirs)
    assert line["changes"] == []
    assert summary.fields == {}
    assert (summary.documents, summary.compared, summary.not_compared) == (1, 0, 1)
    assert summary.changed_documents == 0


def test_a_document_in_one_batch_only_is_an_unmatched_line_naming_its_side() -> None:
    summary = DiffSummary()
    mine, theirs = _job({"a": 1}), _job({"a": 1}, name="b.txt")
    only_mine = pair_line(_row(mine, None), summary)
    only_theirs = pair_line(_row(None, theirs, sha="cd" * 32), summary)
    assert only_mine == {
        "type": "unmatched",
        "document_sha256": "ab" * 32,
        "filename": "a.txt",
        "job_id": str(mine.job_id),
        "status": "succeeded",
        "in": "batch",
    }
    assert only_theirs is not None
    assert only_theirs["in"] == "against"
    assert only_theirs["against_job_id"] == str(theirs.job_id)
    assert "job_id" not in only_theirs
    assert summary.unmatched == {"batch": 1, "against": 1}
    assert (summary.documents, summary.compared) == (2, 0)


def test_a_job_without_a_document_is_unmatched_with_no_sha() -> None:
    summary = DiffSummary()
    job = LoneJob(uuid.uuid4(), "against", "x.pdf", "failed", dt.datetime.now(dt.UTC))
    line = lone_line(job, summary)
    assert line["document_sha256"] is None
    assert (line["in"], line["status"], line["against_job_id"]) == (
        "against",
        "failed",
        str(job.job_id),
    )
    assert summary.unmatched == {"batch": 0, "against": 1}


def test_the_summary_counts_each_fields_changes_over_many_documents() -> None:
    summary = DiffSummary()
    pairs: list[tuple[dict[str, Any], dict[str, Any]]] = [
        ({"total": 1, "v": {"n": "A"}}, {"total": 2, "v": {"n": "A"}}),
        ({"total": 1, "v": {"n": "A"}}, {"total": 3, "v": {"n": "B"}}),
        ({"total": 1, "note": "x"}, {"total": 1}),
        ({"total": 1}, {"total": 1}),
    ]
    for before, after in pairs:
        pair_line(_row(_job(after), _job(before)), summary)
    line = summary.line(batch_id=BATCH, against=AGAINST)
    assert line["documents"] == 4
    assert line["compared"] == 4
    assert line["changed_documents"] == 3
    assert line["fields"] == {
        "note": {"changed": 0, "added": 0, "removed": 1},
        "total": {"changed": 2, "added": 0, "removed": 0},
        "v.n": {"changed": 1, "added": 0, "removed": 0},
    }
    assert list(line["fields"]) == sorted(line["fields"])
    assert (line["type"], line["batch_id"], line["against"]) == (
        "summary",
        str(BATCH),
        str(AGAINST),
    )


def test_the_summary_stops_adding_fields_past_its_cap_and_says_so(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(diff, "MAX_SUMMARY_FIELDS", 2)
    summary = DiffSummary()
    pair_line(_row(_job({"a": 1, "b": 1, "c": 1}), _job({})), summary)
    pair_line(_row(_job({"a": 2}), _job({})), summary)
    assert summary.fields == {
        "a": {"changed": 0, "added": 2, "removed": 0},
        "b": {"changed": 0, "added": 1, "removed": 0},
    }
    assert summary.line(batch_id=BATCH, against=AGAINST)["fields_truncated"] is True


def test_an_ndjson_line_is_one_line_of_json_that_keeps_non_ascii_text() -> None:
    raw = ndjson({"name": "Ærø\nAS"})
    assert raw.endswith(b"\n")
    assert raw.count(b"\n") == 1
    assert json.loads(raw) == {"name": "Ærø\nAS"}
    assert "Ærø".encode() in raw
