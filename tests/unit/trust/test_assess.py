"""assess gives every leaf of a result a verdict; summarise and review_state read them."""

from __future__ import annotations

from typing import Any

import pytest

from schemas.trust.config import TrustConfig
from schemas.trust.fields import FieldOut, ReviewState
from tasks.trust.assess import assess, review_state, summarise

TEXT = (
    "INVOICE\nVendor: Acme Corp\nInvoice number: INV-2024-0042\n"
    "Date: 1 March 2026\nPaid: [X]\n"
    "\fLine items\nWidget    10.00\nGadget    20.50\n"
    "Total due: EUR 1.234,56\n"
)
CONFIG = TrustConfig()


def _result() -> dict[str, Any]:
    return {
        "vendor": {"name": "Acme Corp", "vat": None},
        "invoice_number": "INV-2024-0042",
        "date": "2026-03-01",
        "paid": True,
        "line_items": [
            {"description": "Widget", "amount": 10.0},
            {"description": "Gadget", "amount": 20.5},
        ],
        "total": 1234.56,
        "notes": [],
    }


QUOTES = [
    ("/vendor/name", "Vendor: Acme Corp"),
    ("/invoice_number", "lnvoice nurnber: INV-2024-0042"),
    ("/date", "Date: 1 March 2026"),
    ("/paid", "Paid: [X]"),
    ("/line_items/0", "Widget 10.00"),
    ("/line_items/1/description", "Gadget 20.50"),
    ("/line_items/1/amount", "Gadget 20.50"),
    ("/total", "Total due: EUR 1.234,56"),
]


def _run(**overrides: Any) -> dict[str, FieldOut]:
    arguments: dict[str, Any] = {
        "result": _result(),
        "quotes": QUOTES,
        "text": TEXT,
        "reasked": False,
        "chunk_results": [],
        "second": None,
        "ocr_words": None,
        "config": CONFIG,
    }
    arguments.update(overrides)
    return {f.path: f for f in assess(**arguments)}


def test_every_leaf_gets_a_verdict_including_nulls_list_items_and_empty_lists() -> None:
    assert list(_run()) == [
        "/vendor/name",
        "/vendor/vat",
        "/invoice_number",
        "/date",
        "/paid",
        "/line_items/0/description",
        "/line_items/0/amount",
        "/line_items/1/description",
        "/line_items/1/amount",
        "/total",
        "/notes",
    ]


def test_supported_fields_carry_their_original_offsets_and_page() -> None:
    fields = _run()
    total = fields["/total"]
    assert total.support == "verified"
    assert (total.start, total.end) == (TEXT.index("Total"), TEXT.index("1.234,56") + 8)
    assert total.page == 2
    assert fields["/vendor/name"].page == 1
    assert total.confidence == 0.95


def test_an_ocr_noisy_quote_supports_its_field_fuzzily() -> None:
    field = _run()["/invoice_number"]
    assert field.support == "fuzzy"
    assert 0.8 < field.confidence < 0.95
    assert field.quote == "lnvoice nurnber: INV-2024-0042"


def test_null_and_empty_values_are_absent() -> None:
    fields = _run()
    for path in ("/vendor/vat", "/notes"):
        assert fields[path].support == "absent"
        assert fields[path].confidence == 0.90
        assert fields[path].start is None


def test_a_quote_given_for_a_list_item_supports_the_items_leaves() -> None:
    fields = _run()
    assert fields["/line_items/0/description"].support == "verified"
    assert fields["/line_items/0/amount"].support == "verified"


def test_a_fabricated_value_with_a_lookalike_quote_is_unsupported() -> None:
    result = _result() | {"vendor": {"name": "Apex Corp", "vat": None}}
    field = _run(result=result, quotes=[("/vendor/name", "Vendor: Apex Corp")])["/vendor/name"]
    assert field.support == "unsupported"
    assert field.confidence == 0.10
    assert field.signals["value_in_quote"] == 0.0


def test_a_fabricated_quote_and_a_missing_quote_are_unsupported() -> None:
    fields = _run(quotes=[("/total", "Grand total after discount: 999.00")])
    assert fields["/total"].support == "unsupported"
    assert fields["/total"].quote == "Grand total after discount: 999.00"
    assert fields["/total"].confidence == 0.05
    assert fields["/vendor/name"].quote is None
    assert fields["/vendor/name"].confidence == 0.05


def test_a_real_quote_with_a_wrong_value_is_unsupported() -> None:
    fields = _run(result=_result() | {"total": 1234.65})
    assert fields["/total"].support == "unsupported"
    assert fields["/total"].start == TEXT.index("Total")


def test_the_best_of_several_quotes_is_used_and_junk_quotes_are_ignored() -> None:
    quotes = [
        ("/total", ""),
        ("/total", "Widget 10.00"),  # found, but does not hold the total
        ("/total", "Total due: EUR 1.234,56"),
        ("/total", "Total due: EUR 1.234,56"),
        ("/nowhere/at/all", "Vendor: Acme Corp"),
        ("vendor/name", "Vendor: Acme Corp"),  # the leading slash is mended
    ]
    fields = _run(quotes=quotes)
    assert fields["/total"].support == "verified"
    assert fields["/total"].quote == "Total due: EUR 1.234,56"
    assert fields["/vendor/name"].support == "verified"


def test_a_reask_lowers_every_field() -> None:
    fields = _run(reasked=True)
    assert fields["/total"].confidence == round(0.95 * 0.85, 4)
    assert fields["/vendor/vat"].confidence == round(0.90 * 0.85, 4)


def test_chunks_that_disagree_lower_the_field_and_agreeing_ones_do_not() -> None:
    chunks = [{"total": "1,234.56"}, {"total": 1234.56}, {"total": 99.0, "vendor": {"name": None}}]
    fields = _run(chunk_results=chunks)
    assert fields["/total"].signals["agreement"] == round(0.5 + 0.5 * 2 / 3, 4)
    assert fields["/total"].confidence == round(0.95 * (0.5 + 0.5 * 2 / 3), 4)
    assert fields["/vendor/name"].signals["agreement"] == 1.0  # no chunk pair to compare


def test_list_items_are_not_compared_across_chunks() -> None:
    chunks = [{"line_items": [{"amount": 1.0}]}, {"line_items": [{"amount": 2.0}]}]
    assert _run(chunk_results=chunks)["/line_items/0/amount"].signals["agreement"] == 1.0


def test_a_disagreeing_second_sample_halves_the_field_and_an_agreeing_one_does_not() -> None:
    second = _result() | {"total": "EUR 1,234.56", "invoice_number": "INV-2024-0043"}
    second["vendor"] = {"name": "ACME corp"}  # vat missing: null both times
    fields = _run(second=second)
    assert fields["/total"].signals["consistency"] == 1.0
    assert fields["/vendor/name"].signals["consistency"] == 1.0
    assert fields["/vendor/vat"].signals["consistency"] == 1.0
    assert fields["/invoice_number"].signals["consistency"] == 0.5


def test_a_field_the_second_sample_lacks_counts_as_a_disagreement() -> None:
    assert _run(second={"vendor": {"name": "Acme Corp"}})["/total"].signals["consistency"] == 0.5


def test_ocr_confidence_of_the_words_under_the_match_lowers_the_field() -> None:
    start = TEXT.index("Total")
    words = [(start, start + 5, 60.0), (start + 6, start + 10, 80.0), (0, 7, 10.0), (5, 6, -1.0)]
    field = _run(ocr_words=words)["/total"]
    assert field.signals["ocr"] == 0.5 + 0.5 * 70 / 100
    assert field.confidence == round(0.95 * 0.85, 4)
    assert _run(ocr_words=words)["/paid"].signals["ocr"] == 1.0  # no OCR word under it


def test_summarise_is_the_least_confident_field_or_none() -> None:
    fields = list(_run(quotes=QUOTES[1:]).values())
    assert summarise(fields) == 0.05
    assert summarise([]) is None


@pytest.mark.parametrize(
    ("threshold", "state"), [(0.6, ReviewState.PENDING), (0.05, ReviewState.NOT_NEEDED)]
)
def test_review_is_pending_when_a_field_is_below_the_threshold(
    threshold: float, state: ReviewState
) -> None:
    fields = list(_run(quotes=QUOTES[1:]).values())
    assert review_state(fields, threshold) is state


def test_a_fully_supported_result_needs_no_review() -> None:
    fields = list(_run().values())
    assert review_state(fields, CONFIG.review_threshold) is ReviewState.NOT_NEEDED
    assert review_state([], CONFIG.review_threshold) is ReviewState.NOT_NEEDED
