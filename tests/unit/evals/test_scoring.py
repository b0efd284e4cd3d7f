"""Each scoring rule on its own: exact, text, numbers, dates, set F1, nulls and absences."""

from __future__ import annotations

from typing import Any

import pytest

from scripts.evals.schema_rules import SchemaView
from scripts.evals.scoring import (
    MISSING,
    Scorer,
    Tolerance,
    normal_text,
    score_date,
    score_exact,
    score_number,
    score_string,
    set_f1,
)

DEFAULT = Tolerance()


@pytest.mark.parametrize(
    ("label", "predicted", "json_type", "score"),
    [
        (42, 42, "integer", 1.0),
        (42, 42.0, "integer", 1.0),
        ("42", 42, "integer", 1.0),  # a number given as text counts as the number
        (42, 43, "integer", 0.0),
        (1, True, "integer", 0.0),  # a boolean is never a number
        (True, "true", "boolean", 1.0),
        (False, True, "boolean", 0.0),
        ("auto", "auto", None, 1.0),
        ("auto", "Auto", None, 0.0),  # enums are exact: no case folding
        (None, False, None, 0.0),
    ],
)
def test_exact_values_agree_only_when_equal_with_integers_and_booleans_read_from_text(
    label: Any, predicted: Any, json_type: str | None, score: float
) -> None:
    assert score_exact(label, predicted, json_type) == score


@pytest.mark.parametrize(
    ("label", "predicted", "score"),
    [
        ("  ACME   GmbH\n", "acme gmbh", 1.0),  # case and runs of whitespace
        ("ﬁle", "file", 1.0),  # NFKC unfolds the ligature
        ("\uff21\uff22\uff23\uff11\uff12", "abc12", 1.0),  # full-width letters and digits
        ("Straße", "STRASSE", 1.0),  # case folding, not lower-casing
        ("acme", "acme inc", 0.0),
        (42, "42", 1.0),  # a number labelled where the schema says text
        (12.0, "12", 1.0),
    ],
)
def test_text_is_compared_after_nfkc_case_folding_and_collapsing_whitespace(
    label: Any, predicted: Any, score: float
) -> None:
    assert score_string(label, predicted) == score


def test_normalised_text_is_trimmed_and_normalising_it_again_changes_nothing() -> None:
    once = normal_text("  \uff28ello\tWORLD  ")
    assert once == "hello world"
    assert normal_text(once) == once


@pytest.mark.parametrize(
    ("label", "predicted", "tol", "score"),
    [
        (10.0, 10.005, DEFAULT, 1.0),
        (10.0, 10.02, DEFAULT, 0.0),
        (0.31, 0.1 + 0.2, DEFAULT, 1.0),  # exactly at the edge, float error notwithstanding
        ("1,234.50", 1234.5, DEFAULT, 1.0),  # numbers as text, with thousands separators
        ("12.50", "12.5", DEFAULT, 1.0),
        (1000, 1005, DEFAULT, 0.0),
        (1000, 1005, Tolerance(absolute=0.0, relative=0.01), 1.0),
        (1000, 1020, Tolerance(absolute=0.0, relative=0.01), 0.0),
        (5, 7, Tolerance(absolute=2.0), 1.0),
        ("n/a", "N/A", DEFAULT, 1.0),  # neither is a number: compared as text
        ("n/a", 5, DEFAULT, 0.0),
        (True, 1, DEFAULT, 0.0),  # a boolean is no number
    ],
)
def test_numbers_agree_within_the_absolute_or_the_relative_tolerance(
    label: Any, predicted: Any, tol: Tolerance, score: float
) -> None:
    assert score_number(label, predicted, tol) == score


@pytest.mark.parametrize(
    ("label", "predicted", "with_time", "score"),
    [
        ("2026-03-05", "March 5, 2026", False, 1.0),
        ("2026-03-05", "5 Mar 2026", False, 1.0),
        ("2026-03-05", "2026-03-06", False, 0.0),
        ("2026-03-05T10:00:00+02:00", "2026-03-05T08:00:00Z", True, 1.0),
        ("2026-03-05T08:00:00", "2026-03-05T08:00:00Z", True, 1.0),  # no zone: UTC
        ("2026-03-05T08:00:00Z", "2026-03-05T09:00:00Z", True, 0.0),
        ("sometime", "Sometime", False, 1.0),  # neither parses: compared as text
        ("sometime", "2026-03-05", False, 0.0),
    ],
)
def test_dates_agree_when_both_parse_to_the_same_day_or_instant(
    label: Any, predicted: Any, with_time: bool, score: float
) -> None:
    assert score_date(label, predicted, with_time=with_time) == score


def test_set_f1_is_the_harmonic_mean_of_precision_and_recall() -> None:
    assert set_f1({"a", "b"}, {"a", "b", "c", "d"}) == pytest.approx(2 / 3)
    assert set_f1({"a", "b", "c", "d"}, {"a"}) == pytest.approx(0.4)
    assert set_f1(set(), set()) == 1.0
    assert set_f1({"a"}, set()) == 0.0
    assert set_f1(set(), {"a"}) == 0.0
    assert set_f1({"a"}, {"b"}) == 0.0


SCHEMA: dict[str, Any] = {
    "type": "object",
    "$defs": {
        "item": {
            "type": "object",
            "properties": {
                "description": {"type": "string"},
                "quantity": {"type": "integer"},
                "amount": {"type": "number"},
                "shipped": {"anyOf": [{"type": "string", "format": "date"}, {"type": "null"}]},
            },
        }
    },
    "properties": {
        "total": {"type": "number"},
        "due": {"anyOf": [{"type": "string", "format": "date"}, {"type": "null"}]},
        "tags": {"type": "array", "items": {"type": "string"}},
        "amounts": {"type": "array", "items": {"type": "number"}},
        "lines": {"type": "array", "items": {"$ref": "#/$defs/item"}},
        "paid": {"type": "boolean"},
    },
}


def scorer() -> Scorer:
    """A scorer under SCHEMA with the default tolerance."""
    return Scorer(SchemaView(SCHEMA))


def field(name: str) -> dict[str, Any]:
    """The resolved schema of one of SCHEMA's top-level fields."""
    return SchemaView(SCHEMA).field(SchemaView(SCHEMA).top(), name)


@pytest.mark.parametrize(
    ("name", "label", "predicted", "score"),
    [
        ("total", None, None, 1.0),  # a null label: the document has no such value
        ("total", None, MISSING, 1.0),
        ("total", None, 12.5, 0.0),
        ("total", 12.5, MISSING, 0.0),  # labelled, but the result lacks the field
        ("total", 12.5, None, 0.0),
        ("due", "2026-01-31", "31 January 2026", 1.0),  # format date under anyOf
        ("paid", "false", False, 1.0),
        ("tags", None, [], 1.0),  # null, absent and [] all mean "no items"
        ("tags", [], MISSING, 1.0),
        ("tags", "urgent", ["URGENT"], 1.0),  # a lone value is a list of one
    ],
)
def test_nulls_and_absent_values_score_by_whether_both_say_nothing(
    name: str, label: Any, predicted: Any, score: float
) -> None:
    assert scorer().score(field(name), label, predicted)[1] == score


def test_lists_of_scalars_score_the_f1_of_their_normalised_sets() -> None:
    s = scorer()
    assert s.score(field("tags"), ["Urgent ", "paid"], ["PAID", "urgent"]) == ("set_f1", 1.0)
    # extra items lower the precision; duplicates count once
    rule, extra = s.score(field("tags"), ["a", "b"], ["a", "b", "c", "d", "a"])
    assert rule == "set_f1"
    assert extra == pytest.approx(2 / 3)
    assert s.score(field("amounts"), ["1.50", 2], [1.5, "2.0"])[1] == 1.0  # numbers as text
    assert s.score(field("amounts"), [1.5], [1.51])[1] == 0.0  # items compare exactly


def test_lists_of_objects_compare_the_labelled_keys_of_each_normalised_item() -> None:
    extracted = [
        {"description": "Widget  A", "quantity": 2, "amount": 10.0, "shipped": None},
        {"description": "Gadget", "quantity": 1, "amount": 5.5, "shipped": "2026-02-01"},
    ]
    # only description and amount labelled: quantity and shipped are not compared
    labelled = [
        {"description": "widget a", "amount": "10"},
        {"description": "GADGET", "amount": 5.5},
    ]
    assert scorer().score(field("lines"), labelled, extracted) == ("set_f1", 1.0)
    one_wrong = [{"description": "widget a", "amount": 10}, {"description": "gadget", "amount": 9}]
    assert scorer().score(field("lines"), one_wrong, extracted)[1] == pytest.approx(0.5)
    # a null member and an absent one say the same; dates in items compare by day
    dated = [
        {"description": "widget a", "shipped": None},
        {"description": "gadget", "shipped": "Feb 1, 2026"},
    ]
    assert scorer().score(field("lines"), dated, extracted)[1] == 1.0
    # an item the labeller did not list is an extra one: precision 1/2, recall 1
    fewer = [{"description": "widget a"}]
    assert scorer().score(field("lines"), fewer, extracted)[1] == pytest.approx(2 / 3)
