"""Values are read the way documents write them: numbers, dates, booleans and text."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from tasks.trust.values import bool_in, canonical, close, dates_in, is_empty, number, numbers_in


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("1,234.56", "1234.56"),
        ("1.234,56", "1234.56"),
        ("EUR 1234.56", "1234.56"),
        ("$1,234.56", "1234.56"),
        ("1 234,56 \u20ac", "1234.56"),
        ("CHF 1'234.50", "1234.5"),
        ("(1,234.56)", "-1234.56"),
        ("1,234", "1234"),
        ("1,5", "1.5"),
        ("42", "42"),
    ],
)
def test_a_number_written_as_text_reads_as_its_decimal(written: str, expected: str) -> None:
    assert number(written) == Decimal(expected)


@pytest.mark.parametrize("text", ["INV-001", "+1 555 123 4567", "Acme Corp", "ABC 123", ""])
def test_text_that_is_not_a_whole_number_is_not_read_as_one(text: str) -> None:
    assert number(text) is None


def test_json_numbers_read_exactly_and_booleans_are_not_numbers() -> None:
    assert number(1234.56) == Decimal("1234.56")
    assert number(7) == Decimal(7)
    assert number(True) is None
    assert number(float("nan")) is None


def test_a_span_states_each_number_under_every_plausible_separator_convention() -> None:
    found = numbers_in("Total EUR 1.234,56, qty 2 x 3.50, ref 1,234")
    assert {
        Decimal("1234.56"),
        Decimal("2"),
        Decimal("3.50"),
        Decimal("1234"),
        Decimal("1.234"),
    } <= (found)


def test_close_allows_the_values_own_precision_and_no_more() -> None:
    assert close(Decimal("1234.6"), Decimal("1234.56"))
    assert not close(Decimal("1234.56"), Decimal("1234.58"))
    assert close(Decimal("1234.50"), Decimal("1234.5"))
    assert not close(Decimal("1234"), Decimal("1234.56"))


@pytest.mark.parametrize(
    "written",
    [
        "2026-03-01",
        "01/03/2026",
        "03/01/2026",
        "1 March 2026",
        "Mar 1, 2026",
        "1st of March, 2026",
        "01.03.26",
        "1-mar-2026",
        "March 1st 2026",
    ],
)
def test_dates_in_common_formats_are_read(written: str) -> None:
    assert date(2026, 3, 1) in dates_in(f"Invoice date: {written} (due later)")


def test_an_iso_date_in_the_text_is_read_year_month_day_only() -> None:
    assert dates_in("on 2026-01-03") == {date(2026, 1, 3)}


def test_a_text_without_dates_has_none() -> None:
    assert dates_in("Total 1,234.56 for 3 items") == set()


@pytest.mark.parametrize(
    ("value", "span", "expected"),
    [
        (True, "Paid: Yes", True),
        (True, "Paid: [X]", True),
        (True, "Signed \u2611", True),
        (True, "Paid: no", False),
        (False, "Paid: No", True),
        (False, "Paid: [ ]", True),
        (False, "Paid: yes", False),
        (True, "Paid: TRUE", True),
    ],
)
def test_booleans_are_read_from_words_and_ticked_boxes(
    value: bool, span: str, expected: bool
) -> None:
    assert bool_in(value, span) is expected


@pytest.mark.parametrize("value", [None, "", "   ", [], {}])
def test_null_blank_and_empty_containers_are_empty(value: object) -> None:
    assert is_empty(value)


@pytest.mark.parametrize("value", [0, False, "0", [None], {"a": None}])
def test_zero_false_and_non_empty_containers_are_not_empty(value: object) -> None:
    assert not is_empty(value)


def test_canonical_forms_equate_the_same_value_written_differently() -> None:
    assert canonical("1,234.50") == canonical(1234.5)
    assert canonical("  ACME   corp ") == canonical("Acme Corp")
    assert canonical("2026-03-01") == canonical("2026-03-01T10:00:00Z")
    assert canonical(None) == canonical("") is None


def test_canonical_forms_keep_different_values_apart() -> None:
    assert canonical(True) != canonical(1)
    assert canonical("Acme Corp") != canonical("Apex Corp")
    assert canonical(1234.56) != canonical(1234.57)
