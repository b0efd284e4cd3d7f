"""Quotes are located in the document, and values checked against the text they matched."""

from __future__ import annotations

import random

import pytest

from schemas.trust.config import TrustConfig
from tasks.trust.verify import locate, value_in

DOC = (
    "ACME CORP\nInvoice\n"
    "Vendor:   Acme   Corp\n"
    "Invoice number: INV-2024-0042 issued to Northwind Traders Limited\n"
    "\fPage two\n"
    "Total due: EUR 1.234,56\n"
    "Invoice date: 01/03/2026\n"
)
CONFIG = TrustConfig()


def test_an_exact_quote_maps_to_its_original_offsets_and_page() -> None:
    match = locate("Total due: EUR 1.234,56", DOC, CONFIG)
    assert match is not None
    assert (match.start, match.end) == (DOC.index("Total due"), DOC.index("\nInvoice date"))
    assert match.page == 2
    assert match.score == 100.0
    assert match.exact


def test_a_quote_differing_in_case_and_spacing_maps_to_the_original_text() -> None:
    match = locate("vendor: ACME corp", DOC, CONFIG)
    assert match is not None
    assert match.span == "Vendor:   Acme   Corp"
    assert DOC[match.start : match.end] == match.span
    assert match.page == 1
    assert match.exact


def test_a_quote_cut_inside_a_word_is_widened_to_whole_words() -> None:
    match = locate("otal due: EUR 1.234", DOC, CONFIG)
    assert match is not None
    assert match.span == "Total due: EUR 1.234,56"


def test_a_quote_with_ocr_noise_is_found_fuzzily() -> None:
    match = locate(
        "lnvoice nurnber: INV-2024-0042 issued to N0rthwind Traders Lirnited", DOC, CONFIG
    )
    assert match is not None
    assert not match.exact
    assert CONFIG.quote_min_score <= match.score < 100
    assert match.span == "Invoice number: INV-2024-0042 issued to Northwind Traders Limited"


def test_a_fabricated_quote_is_not_found() -> None:
    assert locate("Payment terms: net 30 days by wire transfer", DOC, CONFIG) is None


def test_blank_quotes_and_blank_documents_are_not_found() -> None:
    assert locate("   ", DOC, CONFIG) is None
    assert locate("Vendor", "", CONFIG) is None


def test_a_stricter_quote_score_rejects_a_noisy_quote() -> None:
    noisy = "lnvoice nurnber: INV-2024-0042 issued to N0rthwind Traders Lirnited"
    assert locate(noisy, DOC, TrustConfig(quote_min_score=99)) is None


def _long_document(seed: int, lines: int) -> tuple[str, list[str]]:
    rng = random.Random(seed)
    vocab = [
        "".join(rng.choices("abcdefghijklmnopqrstuvwxyz", k=rng.randint(3, 9))) for _ in range(3000)
    ]
    rows = [" ".join(rng.choices(vocab, k=rng.randint(5, 10))) for _ in range(lines)]
    return "\n".join(rows), rows


def test_a_noisy_quote_is_found_in_a_long_document_at_its_true_place() -> None:
    text, rows = _long_document(seed=3, lines=8000)
    row = rows[6543]
    noisy = "".join("#" if i % 9 == 4 and c != " " else c for i, c in enumerate(row))
    match = locate(noisy, text, CONFIG) if noisy != row else None
    assert match is not None
    assert match.start == text.index(row)


def test_a_quote_with_noise_in_every_word_is_still_found_by_a_full_pass() -> None:
    text, rows = _long_document(seed=4, lines=8000)
    row = rows[7001]
    words = row.split(" ")
    # One substituted character per word: no word of the quote occurs exactly.
    noisy = " ".join(w[:-1] + ("q" if w[-1] != "q" else "z") for w in words)
    config = TrustConfig(quote_min_score=80)
    match = locate(noisy, text, config)
    assert match is not None
    assert match.start == text.index(row)


def test_value_in_checks_the_matched_document_text_not_the_models_quote() -> None:
    # The model invents "Apex Corp" and a quote that fuzzily resembles the real line.
    match = locate("Vendor: Apex Corp", DOC, CONFIG)
    assert match is not None
    assert not value_in("Apex Corp", match.span, CONFIG)
    assert value_in("Acme Corp", match.span, CONFIG)


@pytest.mark.parametrize(
    ("value", "span"),
    [
        (1234.56, "Total: 1,234.56"),
        (1234.56, "Total: 1.234,56"),
        (1234.56, "Total: EUR 1234.56"),
        ("EUR 1,234.56", "Summe 1.234,56 EUR"),
        (1234, "Total 1,234"),
        ("2026-03-01", "Date: 01/03/2026"),
        ("2026-03-01", "Date: 03/01/2026"),
        ("2026-03-01", "Date: 1 March 2026"),
        ("2026-03-01", "Date: Mar 1, 2026"),
        ("2026-03-01", "Date: 2026-03-01"),
        ("1 March 2026", "Date: 01.03.2026"),
        (True, "Paid: [X]"),
        ("Acme Corp", "VENDOR: ACME  CORP"),
        ("Northwind Traders", "issued to Northwlnd Traders Limited"),
        ("INV-2024-0042", "Invoice INV-2024-0042 issued"),
    ],
)
def test_a_value_the_span_states_is_in_it(value: object, span: str) -> None:
    assert value_in(value, span, CONFIG)


@pytest.mark.parametrize(
    ("value", "span"),
    [
        (1234.58, "Total: 1,234.56"),
        (1234.56, "Total: 1,234"),
        ("2026-03-02", "Date: 01/03/2026"),
        ("2026-03-01", "Date: 2026-01-03"),
        (False, "Paid: [X]"),
        ("Apex Corp", "Vendor: Acme Corp"),
        ("INV-2024-0043", "Invoice INV-2024-0042 issued"),
        ("INV-2024-004", "Invoice INV-2024-0042 issued"),
        ("Northwind Traders Limited of Seattle", "Northwind Traders"),
        (None, "anything"),
        ("", "anything"),
    ],
)
def test_a_value_the_span_does_not_state_is_not_in_it(value: object, span: str) -> None:
    assert not value_in(value, span, CONFIG)
