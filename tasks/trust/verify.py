"""Finding a model's quote in the document, and checking a value against the text it matched."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from rapidfuzz import fuzz

from schemas.trust.config import TrustConfig
from tasks.trust.normalise import Normalised, fold, prepare
from tasks.trust.values import (
    bool_in,
    close,
    currency_in,
    dates_in,
    is_empty,
    iso_date,
    number,
    numbers_in,
)
from tasks.trust.words import text_in

__all__ = ["MAX_FULL_PASSES", "FullPasses", "Match", "locate", "value_in"]

_DEFAULT = TrustConfig()
_WIDEN = 40  # a match is widened to whole words, at most this many characters each side
_ANCHORS = 3  # longest words of a quote searched exactly to find where it may be
_MAX_HITS = 16  # a word seen more often than this is too common to narrow the search
_MAX_WINDOWS = 48
_SMALL = 20_000  # below this many characters one full alignment is cheap enough
MAX_FULL_PASSES = 20  # full-document alignments one assess call may spend on absent quotes
# A full alignment costs about 0.1-0.15 ns per document character per quote character (at
# least 64: rapidfuzz works in 64-bit blocks); measured on the 2-core dev machine, an
# 80-character quote takes 20 ms on 2M characters and 57 ms on 5M, a 1000-character one
# 50 ms on 500k. Past this much work (about 50 ms) the full pass is skipped.
_FULL_PASS_WORK = 350_000_000


@dataclass
class FullPasses:
    """Full-document alignments a caller may still spend (one assess call shares one)."""

    left: int = MAX_FULL_PASSES


@dataclass(frozen=True)
class Match:
    """Where a quote is in the document: original offsets, page, score and matched text."""

    start: int
    end: int
    page: int  # 1-based page of `start`
    score: float  # 100 for an exact (normalised) match, else the fuzzy partial_ratio
    span: str  # the original text at [start, end), widened to whole words
    exact: bool


def locate(
    quote: str,
    text: str | Normalised,
    config: TrustConfig | None = None,
    *,
    passes: FullPasses | None = None,
) -> Match | None:
    """Where the document holds the quote: exactly after normalising, else fuzzily.

    A quote the anchored search misses in a long document costs a full alignment, taken
    from `passes` when given (none left: not found) and skipped for very long documents.
    """
    cfg = config or _DEFAULT
    doc = text if isinstance(text, Normalised) else prepare(text)
    needle = fold(quote[: cfg.max_quote_chars])
    if not needle or not doc.text:
        return None
    at = doc.text.find(needle)
    if at >= 0:
        return _match(doc, at, at + len(needle), 100.0, needle=needle, exact=True)
    found = _fuzzy(needle, doc.text, cfg.quote_min_score, passes)
    if found is None:
        return None
    return _match(doc, *found, needle=needle, exact=False)


def _fuzzy(
    needle: str, hay: str, min_score: float, passes: FullPasses | None
) -> tuple[int, int, float] | None:
    """The best alignment scoring at least `min_score`: near anchor words first, else anywhere."""
    budget = _MAX_WINDOWS
    for windows in _anchored(needle, hay) if len(hay) > _SMALL else ():
        best: tuple[int, int, float] | None = None
        for lo, hi in windows[:budget]:
            found = _align(needle, hay, lo, hi, min_score)
            if found is not None and (best is None or found[2] > best[2]):
                best = found
        if best is not None:
            return best
        budget -= len(windows)
        if budget <= 0:
            break
    # Noise in every anchor word (or a quote that is not there): one full pass over the
    # document, as long as that stays cheap and the caller has passes left.
    if len(hay) > _SMALL:
        if len(hay) * max(len(needle), 64) > _FULL_PASS_WORK:
            return None
        if passes is not None:
            if passes.left <= 0:
                return None
            passes.left -= 1
    return _align(needle, hay, 0, len(hay), min_score)


def _align(
    needle: str, hay: str, lo: int, hi: int, min_score: float
) -> tuple[int, int, float] | None:
    """The best stretch of hay[lo:hi] for the quote, as (start, end, score) in `hay`."""
    if hi - lo < len(needle):
        # partial_ratio would score the stretch inside the quote: "Acme" in a document
        # that says only "Acme" is not a match for "Acme Corp, a made-up company".
        score = fuzz.ratio(needle, hay[lo:hi], score_cutoff=min_score)
        return (lo, hi, score) if score else None
    found = fuzz.partial_ratio_alignment(needle, hay[lo:hi], score_cutoff=min_score)
    return None if found is None else (lo + found.dest_start, lo + found.dest_end, found.score)


def _anchored(needle: str, hay: str) -> Iterator[list[tuple[int, int]]]:
    """For each of the quote's longest words, the stretches of `hay` around its exact hits."""
    size, slack = len(needle), len(needle) // 4 + 8
    words = sorted({w for w in needle.split(" ") if len(w) >= 4}, key=len, reverse=True)
    for word in words[:_ANCHORS]:
        offset, hits = needle.find(word), list[int]()
        pos = hay.find(word)
        while pos >= 0 and len(hits) <= _MAX_HITS:
            hits.append(pos)
            pos = hay.find(word, pos + 1)
        if hits and len(hits) <= _MAX_HITS:
            yield [(max(0, p - offset - slack), p - offset + size + slack) for p in hits]


def _widen(text: str, start: int, end: int) -> tuple[int, int]:
    """A folded span without edge spaces, grown to whole words (within a limit)."""
    while start < end and text[start] == " ":
        start += 1
    while end > start and text[end - 1] == " ":
        end -= 1
    floor, ceiling = max(0, start - _WIDEN), min(len(text), end + _WIDEN)
    while start > floor and text[start - 1] != " ":
        start -= 1
    while end < ceiling and text[end] != " ":
        end += 1
    return start, end


def _trim(text: str, start: int, end: int, needle: str) -> tuple[int, int]:
    """Drop up to two edge words a fuzzy window caught beyond the quote, if that fits better."""
    # partial_ratio aligns a window as long as the quote, so noise can shift it onto the
    # neighbouring word; full-string similarity tells which edges belong to the quote.
    lefts, rights = [start], [end]
    for _ in range(2):
        cut = text.find(" ", lefts[-1], end)
        if cut < 0:
            break
        lefts.append(cut + 1)
    for _ in range(2):
        cut = text.rfind(" ", start, rights[-1])
        if cut < 0:
            break
        rights.append(cut)
    spans = [(a, b) for a in lefts for b in rights if a < b] or [(start, end)]
    return max(spans, key=lambda s: (fuzz.ratio(needle, text[s[0] : s[1]]), s[1] - s[0]))


def _match(
    doc: Normalised, start: int, end: int, score: float, *, needle: str, exact: bool
) -> Match:
    start, end = _widen(doc.text, start, end)
    if not exact:
        start, end = _trim(doc.text, start, end, needle)
    first, last = doc.start(start), doc.end(end)
    return Match(
        start=first,
        end=last,
        page=doc.page(first),
        score=round(score, 2),
        span=doc.original[first:last],
        exact=exact,
    )


def value_in(value: Any, span: str, config: TrustConfig | None = None) -> bool:
    """Whether the document text a quote matched states the value (not the model's quote)."""
    if is_empty(value):
        return False
    if isinstance(value, bool):
        return bool_in(value, span)
    day = iso_date(value)
    if day is not None:
        return day in dates_in(span) or text_in(str(value), span, 100.0)
    amount = number(value)
    if amount is not None:  # never fuzzy: 1234.58 is not 1234.56
        return any(close(amount, found) for found in numbers_in(span))
    if not isinstance(value, str):
        return False
    min_score = (config or _DEFAULT).value_min_score
    if text_in(value, span, min_score) or currency_in(value, span):
        return True
    written = dates_in(value)  # "1 March 2026" against "01/03/2026"
    return bool(written and written & dates_in(span))
