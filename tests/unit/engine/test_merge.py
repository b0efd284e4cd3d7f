"""tasks.engine.merge: per-chunk results merge field by field, in chunk order."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from tasks.engine.merge import MergeOutcome, merge_partials, reduce_prompt


def merge(
    partials: list[dict[str, Any]],
    list_fields: list[str] | None = None,
    summary_fields: list[str] | None = None,
) -> MergeOutcome:
    """merge_partials with optional field lists."""
    return merge_partials(
        partials=partials, list_fields=list_fields or [], summary_fields=summary_fields or []
    )


def test_list_fields_concatenate_without_duplicates() -> None:
    line = {"description": "Paper", "qty": 2}
    outcome = merge(
        [
            {"items": [line, {"description": "Toner", "qty": 1}]},
            {"items": [{"qty": 2, "description": "Paper"}, {"description": "Pens", "qty": 40}]},
        ],
        list_fields=["items"],
    )
    assert outcome.merged["items"] == [
        line,
        {"description": "Toner", "qty": 1},
        {"description": "Pens", "qty": 40},
    ]


def test_list_items_keep_chunk_order() -> None:
    outcome = merge([{"ids": [3, 1]}, {"ids": [2]}, {"ids": [5, 4]}], list_fields=["ids"])
    assert outcome.merged["ids"] == [3, 1, 2, 5, 4]


def test_string_lists_dedupe_case_insensitively_and_trimmed() -> None:
    outcome = merge(
        [
            {"parties": ["Acme GmbH", "Globex Inc."]},
            {"parties": ["  ACME  gmbh ", "Initech", "globex inc."]},
        ],
        list_fields=["parties"],
    )
    assert outcome.merged["parties"] == ["Acme GmbH", "Globex Inc.", "Initech"]


def test_identical_rows_seen_twice_by_one_chunk_are_both_kept() -> None:
    row = {"description": "Coffee", "amount": 2.5}
    outcome = merge([{"rows": [row, row]}, {"rows": [row]}], list_fields=["rows"])
    assert outcome.merged["rows"] == [row, row]


def test_empty_and_null_list_items_are_dropped() -> None:
    outcome = merge(
        [{"tags": ["a", "", None]}, {"tags": None}, {"tags": [" ", "b"]}], list_fields=["tags"]
    )
    assert outcome.merged["tags"] == ["a", "b"]


def test_list_items_with_non_json_values_still_dedupe() -> None:
    day = dt.date(2024, 11, 5)
    outcome = merge([{"d": [{"on": day}]}, {"d": [{"on": day}]}], list_fields=["d"])
    assert outcome.merged["d"] == [{"on": day}]


def test_scalar_takes_first_non_empty_value() -> None:
    outcome = merge(
        [
            {"number": None, "total": "", "currency": "EUR", "paid": None},
            {"number": "INV-7", "total": "  ", "currency": "GBP", "paid": False},
            {"number": "INV-8", "total": 12.5, "currency": None, "paid": True},
        ]
    )
    assert outcome.merged == {"number": "INV-7", "total": 12.5, "currency": "EUR", "paid": False}
    assert outcome.needs_reduce == []


def test_zero_and_false_count_as_real_values() -> None:
    outcome = merge([{"discount": 0, "vat_exempt": False}, {"discount": 5, "vat_exempt": True}])
    assert outcome.merged == {"discount": 0, "vat_exempt": False}


def test_nested_object_takes_first_non_empty_object() -> None:
    outcome = merge(
        [
            {"supplier": {"name": None, "vat_id": None}},
            {"supplier": {"name": "Acme", "vat_id": None}},
            {"supplier": {"name": "Other", "vat_id": "DE1"}},
        ]
    )
    assert outcome.merged["supplier"] == {"name": "Acme", "vat_id": None}


def test_all_empty_field_keeps_the_first_value_and_its_type() -> None:
    outcome = merge([{"note": "", "meta": {}}, {"note": None, "meta": None}])
    assert outcome.merged == {"note": "", "meta": {}}


def test_keys_missing_from_some_chunks_still_merge() -> None:
    outcome = merge([{"a": 1}, {"b": 2}, {"a": 3, "c": [1]}], list_fields=["c"])
    assert outcome.merged == {"a": 1, "b": 2, "c": [1]}
    assert list(outcome.merged) == ["a", "b", "c"]


def test_summary_needs_reduce_only_when_several_chunks_have_one() -> None:
    outcome = merge(
        [
            {"summary": "Part one covers pricing.", "abstract": "", "title": "T"},
            {"summary": "Part two covers termination.", "abstract": "Only here.", "title": "U"},
            {"summary": None, "abstract": None, "title": None},
        ],
        summary_fields=["abstract", "summary"],
    )
    assert outcome.merged["summary"] == "Part one covers pricing."
    assert outcome.merged["abstract"] == "Only here."
    assert outcome.needs_reduce == ["summary"]


def test_single_partial_never_needs_reduce() -> None:
    outcome = merge([{"summary": "All of it.", "items": [1, 1]}], ["items"], ["summary"])
    assert outcome == MergeOutcome(
        merged={"summary": "All of it.", "items": [1, 1]}, needs_reduce=[]
    )


def test_needs_reduce_follows_summary_fields_order() -> None:
    parts = [{"b": "x", "a": "y"}, {"b": "z", "a": "w"}]
    assert merge(parts, summary_fields=["a", "b"]).needs_reduce == ["a", "b"]
    assert merge(parts, summary_fields=["b", "a"]).needs_reduce == ["b", "a"]


def test_field_marked_list_and_summary_merges_as_a_list() -> None:
    outcome = merge([{"points": ["a"]}, {"points": ["b"]}], ["points"], ["points"])
    assert outcome.merged["points"] == ["a", "b"]
    assert outcome.needs_reduce == []


def test_no_partials_merge_to_nothing() -> None:
    assert merge([], ["x"], ["y"]) == MergeOutcome(merged={}, needs_reduce=[])


def test_reduce_prompt_lists_every_value_in_order_with_the_field_name() -> None:
    prompt = reduce_prompt(
        field="executive_summary", values=["First part text.", "  ", "Second part text."]
    )
    assert "executive_summary" in prompt
    assert "executive summary" in prompt
    first, second = prompt.index("First part text."), prompt.index("Second part text.")
    assert first < second
    assert '<part index="1" of="2">' in prompt
    assert '<part index="2" of="2">' in prompt
    assert '<part index="3"' not in prompt  # the blank value is not a part


def test_reduce_prompt_without_values_is_an_error() -> None:
    with pytest.raises(ValueError, match="summary"):
        reduce_prompt(field="summary", values=["", "   "])
