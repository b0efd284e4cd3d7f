"""A text value is in a span only as whole words; a currency code is in it by its symbol."""

from __future__ import annotations

import pytest

from schemas.trust.config import TrustConfig
from tasks.trust.values import currency_in
from tasks.trust.verify import value_in

CONFIG = TrustConfig()


@pytest.mark.parametrize(
    ("value", "span"),
    [
        ("Paris", "Comparison table"),
        ("Ann", "Annual report"),
        ("Smith", "Mr Smithson"),
        ("Paris", "Parish records"),  # one letter more would pass the fuzzy score
        ("Northwind Traders", "Northwlnd Tradersville"),  # a noisy hit glued to a longer word
        ("Acme Corp", "ByAcme Corp"),
    ],
)
def test_a_value_inside_a_longer_word_is_not_in_the_span(value: str, span: str) -> None:
    assert not value_in(value, span, CONFIG)


@pytest.mark.parametrize(
    ("value", "span"),
    [
        ("Smith", "Mr Smith, Jr"),
        ("Paris", "Comparison table, Paris office"),  # a later whole-word hit counts
        ("Northwind Traders", "issued to Northwlnd Traders Limited"),
        ("Northwind Traders", "sold by Morthwind Tradcrs, Leeds"),  # noise on the edge letters
        ("Northwind Traders", "by Northwinnd Traders Ltd"),  # an inserted letter shifts the window
        ("INV-7", "ref INV-7, paid"),
    ],
)
def test_a_value_written_as_whole_words_is_in_the_span_even_through_ocr_noise(
    value: str, span: str
) -> None:
    assert value_in(value, span, CONFIG)


@pytest.mark.parametrize(
    ("value", "span"),
    [
        ("\u6771\u4eac", "\u6771\u4eac\u90fd\u6e2f\u533a"),
        ("\uc11c\uc6b8", "\uc11c\uc6b8\uc5d0\uc11c"),
    ],
)
def test_scripts_without_spaces_between_words_match_inside_a_run(value: str, span: str) -> None:
    assert value_in(value, span, CONFIG)


def test_a_latin_value_beside_cjk_characters_is_a_whole_word() -> None:
    assert value_in("Acme", "\u682a\u5f0f\u4f1a\u793eAcme", CONFIG)


@pytest.mark.parametrize(
    ("code", "span"),
    [
        ("EUR", "\u20ac 1.234,50"),
        ("USD", "$12.00"),
        ("GBP", "\u00a3 3.20"),
        ("JPY", "\u00a5500"),
        ("JPY", "\uffe5500"),  # full-width yen
        ("INR", "\u20b9 1,200"),
        ("eur", "12,00 \u20ac"),
        ("CAD", "C$ 12.00"),
        ("USD", "US$ 12.00"),
    ],
)
def test_a_currency_code_is_in_a_span_that_writes_its_symbol(code: str, span: str) -> None:
    assert value_in(code, span, CONFIG)
    assert currency_in(code, span)


@pytest.mark.parametrize(
    ("code", "span"),
    [
        ("USD", "C$ 12.00"),
        ("CAD", "$12.00"),
        ("EUR", "\u00a3 3.20"),
        ("GBP", "12.00"),
        ("EURO", "\u20ac 12"),
        ("USD", "abc$ 12"),
    ],
)
def test_a_currency_code_is_not_in_a_span_with_another_or_no_symbol(code: str, span: str) -> None:
    assert not value_in(code, span, CONFIG)
    assert not currency_in(code, span)
