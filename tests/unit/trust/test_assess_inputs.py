"""assess takes fields the model writes itself, and shrugs off malformed quotes."""

from __future__ import annotations

from typing import Any

from schemas.trust.config import TrustConfig
from schemas.trust.fields import FieldOut
from tasks.trust.assess import assess

TEXT = (
    "SERVICE AGREEMENT\nThe supplier shall deliver the goods within 30 days of the order.\n"
    "Late delivery incurs a penalty of 2% per week.\nTotal due: EUR 1.234,56\n"
)
SUMMARY = "Delivery in a month, with a weekly late fee."
RESULT: dict[str, Any] = {
    "summary": SUMMARY,
    "summary_title": "Delivery terms",
    "notes": ["Penalties apply", "Thirty days"],
    "total": 1234.56,
}
DELIVERY = "The supplier shall deliver the goods within 30 days of the order."
PENALTY = "Late delivery incurs a penalty of 2% per week."
QUOTES = [
    ("/summary", DELIVERY),
    ("/summary_title", DELIVERY),
    ("/notes/0", PENALTY),
    ("/notes/1", DELIVERY),
    ("/total", "Total due: EUR 1.234,56"),
]
CONFIG = TrustConfig()


def _run(
    quotes: list[Any], inferred: list[str], config: TrustConfig = CONFIG
) -> dict[str, FieldOut]:
    fields = assess(result=RESULT, quotes=quotes, text=TEXT, inferred=inferred, config=config)
    return {f.path: f for f in fields}


def test_an_inferred_field_with_a_found_quote_is_supported_without_the_value_in_it() -> None:
    field = _run(QUOTES, ["/summary"])["/summary"]
    assert field.support == "verified"
    assert field.confidence == 0.95
    assert (field.start, field.end) == (TEXT.index(DELIVERY), TEXT.index(DELIVERY) + len(DELIVERY))
    assert "value_in_quote" not in field.signals
    assert field.signals["evidence"] == 1.0


def test_the_same_field_not_named_inferred_is_unsupported() -> None:
    field = _run(QUOTES, [])["/summary"]
    assert field.support == "unsupported"
    assert field.signals["value_in_quote"] == 0.0
    assert _run(QUOTES, ["", "//"])["/summary"].support == "unsupported"  # no root pointer


def test_an_inferred_field_with_a_fabricated_or_no_quote_stays_unsupported() -> None:
    fabricated = _run(
        [("/summary", "The buyer may cancel at any time without notice.")], ["/summary"]
    )
    assert fabricated["/summary"].support == "unsupported"
    assert fabricated["/summary"].confidence == 0.05
    missing = _run([], ["/summary"])["/summary"]
    assert missing.support == "unsupported"
    assert missing.confidence == 0.05


def test_an_inferred_pointer_covers_the_leaves_under_it_and_no_sibling_sharing_its_prefix() -> None:
    fields = _run(QUOTES, ["notes", "/summary/"])  # slashes mended as for quotes
    assert fields["/notes/0"].support == "verified"
    assert fields["/notes/1"].support == "verified"
    assert fields["/summary"].support == "verified"
    assert fields["/summary_title"].support == "unsupported"
    assert fields["/total"].signals["value_in_quote"] == 1.0  # still checked


def test_an_inferred_field_quoted_with_ocr_noise_is_fuzzy() -> None:
    noisy = "The suppller shall de1iver the goods within 30 days of the order."
    field = _run([("/summary", noisy)], ["/summary"])["/summary"]
    assert field.support == "fuzzy"
    assert 0.8 < field.confidence < 0.95


def test_blank_and_zero_width_quotes_are_ignored() -> None:
    quotes = [("/total", "   "), ("/total", "\u200b\u200b"), ("/total", "")]
    field = _run(quotes, [])["/total"]
    assert field.quote is None
    assert field.support == "unsupported"
    assert field.confidence == 0.05


def test_a_quote_longer_than_the_limit_is_cut_before_it_is_matched_and_reported() -> None:
    line = "Total due: EUR 1.234,56"
    quote = line + " and then the model kept on writing" * 200
    field = _run([("/total", quote)], [], TrustConfig(max_quote_chars=len(line)))["/total"]
    assert field.quote == line
    assert field.support == "verified"


def test_malformed_quote_items_are_skipped_and_the_good_ones_kept() -> None:
    quotes: list[Any] = [
        ("/total",),
        ("/total", "Total due: EUR 1.234,56", "extra"),
        None,
        42,
        "/total",
        ("/total", None),
        (None, "Total due: EUR 1.234,56"),
        ["total", "Total due: EUR 1.234,56"],  # a list pair, its slash missing
    ]
    fields = _run(quotes, [])
    assert fields["/total"].support == "verified"
    assert fields["/summary"].quote is None


def test_quotes_for_unknown_or_deeper_paths_are_ignored() -> None:
    quotes = [("/nowhere", DELIVERY), ("/total/amount", "Total due: EUR 1.234,56")]
    fields = _run(quotes, [])
    assert set(fields) == {"/summary", "/summary_title", "/notes/0", "/notes/1", "/total"}
    assert fields["/total"].quote is None
    assert fields["/summary"].quote is None
