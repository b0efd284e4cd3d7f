"""Folding text for matching keeps a faithful map back to the original offsets and pages."""

from __future__ import annotations

import pytest

from tasks.trust.normalise import fold, prepare


def _original(text: str, needle: str) -> str:
    doc = prepare(text)
    at = doc.text.find(needle)
    assert at >= 0, f"{needle!r} not in {doc.text!r}"
    return text[doc.start(at) : doc.end(at + len(needle))]


def test_case_and_whitespace_runs_fold_to_single_lowercase_spaces() -> None:
    assert prepare("Vendor:\t  ACME\n\n Corp").text == "vendor: acme corp"


def test_a_folded_span_maps_back_to_the_original_characters_across_collapsed_spaces() -> None:
    text = "Invoice\n\nVendor:   Acme    Corp\nTotal"
    assert _original(text, "vendor: acme corp") == "Vendor:   Acme    Corp"


@pytest.mark.parametrize(
    ("text", "needle", "original"),
    [
        ("the \ufb01nal bill", "final", "\ufb01nal"),  # ligature: one character became two
        ("Stra\u00dfe 5", "strasse 5", "Stra\u00dfe 5"),  # casefold lengthens
        ("caf\u00e9 noir", "cafe noir", "caf\u00e9 noir"),  # accent dropped
        ("cafe\u0301 noir", "cafe noir", "cafe\u0301 noir"),  # decomposed accent dropped
        ("zero\u200bwidth", "zerowidth", "zero\u200bwidth"),  # format character removed
        ("\uff21\uff22\uff23 123", "abc 123", "\uff21\uff22\uff23 123"),  # full-width
    ],
)
def test_characters_that_fold_to_more_or_fewer_characters_keep_their_offsets(
    text: str, needle: str, original: str
) -> None:
    assert _original(text, needle) == original


def test_curly_quotes_and_dashes_fold_to_plain_ones() -> None:
    assert fold("\u201cIt\u2019s\u201d \u2013 done \u2014 now") == '"it\'s" - done - now'


def test_text_after_a_character_that_folds_to_two_maps_to_the_right_offset() -> None:
    text = "Stra\u00dfe  und Gr\u00f6\u00dfe: 12 EUR"
    assert _original(text, "12 eur") == "12 EUR"
    assert text.index("12 EUR") == prepare(text).start(prepare(text).text.find("12 eur"))


def test_pages_count_the_form_feeds_before_an_offset() -> None:
    text = "page one\fpage two\f\fpage four"
    doc = prepare(text)
    assert doc.page(0) == 1
    assert doc.page(text.index("two")) == 2
    assert doc.page(text.index("four")) == 4
    assert doc.page(text.index("\f")) == 1  # the form feed itself still ends page one


def test_fold_strips_the_edges_of_a_short_text() -> None:
    assert fold("  \u00a0Acme\u00a0 Corp  ") == "acme corp"


def test_an_empty_text_folds_to_an_empty_text() -> None:
    assert prepare("").text == ""
    assert fold("   ") == ""
