"""Quotes the anchored search misses cost full-document passes, and those are rationed."""

from __future__ import annotations

import random

from schemas.trust.config import TrustConfig
from tasks.trust import verify
from tasks.trust.assess import assess
from tasks.trust.verify import MAX_FULL_PASSES, FullPasses, locate

CONFIG = TrustConfig(quote_min_score=80)


def _document(seed: int, chars: int) -> tuple[str, list[str]]:
    rng = random.Random(seed)
    vocab = [
        "".join(rng.choices("abcdefghijklmnopqrstuvwxyz", k=rng.randint(4, 9))) for _ in range(3000)
    ]
    rows: list[str] = []
    size = 0
    while size < chars:
        rows.append(" ".join(rng.choices(vocab, k=rng.randint(5, 10))))
        size += len(rows[-1]) + 1
    return "\n".join(rows), rows


def _garbled(text: str) -> str:
    """One substituted letter per word: no word of the quote is in the document as written."""
    return " ".join(w[:-1] + ("q" if w[-1] != "q" else "z") for w in text.split(" "))


def test_a_quote_only_a_full_pass_finds_is_not_found_once_the_passes_are_spent() -> None:
    text, rows = _document(seed=4, chars=300_000)
    passes = FullPasses(left=1)
    assert locate(rows[10], text, CONFIG, passes=passes) is not None  # exact: no pass spent
    assert passes.left == 1
    found = locate(_garbled(rows[20]), text, CONFIG, passes=passes)
    assert found is not None
    assert found.start == text.index(rows[20])
    assert passes.left == 0
    assert locate(_garbled(rows[30]), text, CONFIG, passes=passes) is None
    assert locate(_garbled(rows[30]), text, CONFIG) is not None  # unrationed without passes


def test_a_full_pass_is_skipped_where_document_and_quote_make_it_too_costly() -> None:
    # Sized from the cap: this document times a 1000-character quote is past it.
    text, rows = _document(seed=5, chars=verify._FULL_PASS_WORK // 1000 + 50_000)
    at = len(rows) // 2
    quote = _garbled(" ".join(rows[at : at + 40]))[:1000]
    assert len(quote) == 1000
    assert locate(quote, text, CONFIG) is None
    # The same quote in a tenth of the document, or a fifth of it in the whole, is found.
    small = "\n".join(rows[at - 500 : at + 500])
    assert len(small) * 1000 < verify._FULL_PASS_WORK
    found = locate(quote, small, CONFIG)
    assert found is not None
    assert found.start == small.index(rows[at])
    assert locate(quote[:200], text, CONFIG) is not None


def test_one_assess_call_spends_at_most_the_allowed_full_passes() -> None:
    text, rows = _document(seed=6, chars=300_000)
    count = MAX_FULL_PASSES + 5
    result = {f"f{i:02d}": rows[100 + i].split(" ")[1] for i in range(count)}
    quotes = [(f"/f{i:02d}", _garbled(rows[100 + i])) for i in range(count)]
    result["last"] = rows[900].split(" ")[1]
    quotes.append(("/last", rows[900]))  # found exactly, however many passes were spent
    fields = {f.path: f for f in assess(result=result, quotes=quotes, text=text, config=CONFIG)}
    located = [f"/f{i:02d}" for i in range(count) if fields[f"/f{i:02d}"].start is not None]
    assert located == [f"/f{i:02d}" for i in range(MAX_FULL_PASSES)]
    assert fields["/last"].support == "verified"
    assert fields[f"/f{count - 1}"].support == "unsupported"
    assert fields[f"/f{count - 1}"].confidence == 0.05
