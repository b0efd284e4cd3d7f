"""Whether a short text is in a span as whole words, exactly or through OCR noise."""

from __future__ import annotations

import re

from rapidfuzz import fuzz

from tasks.trust.normalise import fold

__all__ = ["text_in"]

_FUZZY_TRIES = 3  # alignments of a value tried before it counts as not in the span
# Scripts written without spaces between words (Thai, Lao, Myanmar, Khmer, Hangul, CJK):
# a letter beside a value there does not make it part of a longer word.
_UNSPACED = re.compile(
    "[\u0e00-\u0eff\u1000-\u109f\u1100-\u11ff\u1780-\u17ff\u2e80-\u9fff"
    "\ua960-\ua97f\uac00-\ud7ff\uf900-\ufaff\uff66-\uffdc\U00020000-\U0003ffff]"
)


def _digits(text: str) -> str:
    return re.sub(r"\D", "", text)


def _glued(text: str, start: int, end: int) -> str:
    """The span grown over digits glued to its ends, so INV-0042 is not found in INV-00421."""
    while start > 0 and text[start].isdigit() and text[start - 1].isdigit():
        start -= 1
    while end < len(text) and text[end - 1].isdigit() and text[end].isdigit():
        end += 1
    return text[start:end]


def _wordy(ch: str) -> bool:
    """A letter or digit of a script that separates its words."""
    return ch.isalnum() and _UNSPACED.match(ch) is None


def _stretches(hay: str, start: int, end: int, needle: str) -> set[tuple[int, int]]:
    """hay[start:end] moved out or in to word edges wherever the needle's edge is a letter."""
    starts, ends = {start}, {end}
    if _wordy(needle[0]):
        out, into = start, start
        while out > 0 and _wordy(hay[out - 1]):
            out -= 1
        while 0 < into < end and _wordy(hay[into - 1]):
            into += 1
        starts = {out, into}
    if _wordy(needle[-1]):
        out, into = end, end
        while out < len(hay) and _wordy(hay[out]):
            out += 1
        while start < into < len(hay) and _wordy(hay[into]):
            into -= 1
        ends = {out, into}
    spans = {_strip(hay, a, b) for a in starts for b in ends}
    return {(a, b) for a, b in spans if a < b}


def _strip(hay: str, start: int, end: int) -> tuple[int, int]:
    """hay[start:end] without the spaces at its edges."""
    while start < end and hay[start] == " ":
        start += 1
    while end > start and hay[end - 1] == " ":
        end -= 1
    return start, end


def _bounded(hay: str, start: int, end: int, needle: str) -> bool:
    """Whether hay[start:end] is not part of a longer word: "paris" is not in "comparison"."""
    if _wordy(needle[0]) and start > 0 and _wordy(hay[start - 1]):
        return False
    return not (_wordy(needle[-1]) and end < len(hay) and _wordy(hay[end]))


def text_in(value: str, span: str, min_score: float) -> bool:
    """Text found exactly or, through OCR noise, fuzzily, as whole words; digits must agree."""
    needle, hay = fold(value), fold(span)
    if not needle or not hay:
        return False
    digits = _digits(needle)
    at = hay.find(needle)
    while at >= 0:
        end = at + len(needle)
        if _bounded(hay, at, end, needle) and _digits(_glued(hay, at, end)) == digits:
            return True
        at = hay.find(needle, at + 1)
    if len(needle) > len(hay):  # the span cannot hold a longer value: compare whole
        return fuzz.ratio(needle, hay) >= min_score and _digits(hay) == digits
    # partial_ratio aligns a window as long as the value, which OCR noise can shift off
    # a word's edges: the window is moved to word edges and scored again as whole words.
    # A stretch holding the value exactly is the value glued to more letters ("paris" in
    # "parish"), which the exact search above already turned down. A window that fails is
    # masked so the next try finds the next best one.
    search = hay
    for _ in range(_FUZZY_TRIES):
        found = fuzz.partial_ratio_alignment(needle, search, score_cutoff=min_score)
        if found is None:
            return False
        for a, b in _stretches(hay, found.dest_start, found.dest_end, needle):
            stretch = hay[a:b]
            if needle in stretch or fuzz.ratio(needle, stretch) < min_score:
                continue
            if _digits(_glued(hay, a, b)) == digits:
                return True
        width = found.dest_end - found.dest_start
        search = f"{search[: found.dest_start]}{chr(0) * width}{search[found.dest_end :]}"
    return False
