"""Split a document too long for one model call into overlapping chunks.

Chunks are contiguous slices of the input, in order: page boundaries (form feeds) are
preferred, then blank lines, line breaks, sentence ends and spaces; a hard character
cut is the last resort (a giant token-less blob). Each chunk after the first starts
with the tail of the previous one, so facts straddling a boundary are seen whole.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass

from tasks.documents.tokens import estimate_tokens

__all__ = ["needs_chunking", "split_document"]

# Separators from strongest to weakest; a piece is split *after* each match so the
# pieces concatenate back to the exact input.
_SEPARATORS = (
    re.compile(r"\f"),  # page
    re.compile(r"\n[ \t]*\n\s*"),  # paragraph (blank line)
    re.compile(r"\n"),  # line (DOCX paragraphs, table rows, code)
    # sentence: ASCII ends + closing quotes/brackets + space, or CJK full stop/!/? (no space)
    re.compile("[.!?]+[\"'\u201d\u2019)\\]]*\\s+|[\u3002\uff01\uff1f]+"),
    # word: spaces, or CJK comma/enumeration comma/semicolon where there are no spaces
    re.compile("\\s+|[\uff0c\u3001\uff1b]"),
)
_HARD = len(_SEPARATORS)  # level of a hard cut: the weakest boundary
# A chunk ends at the strongest boundary found in the back part of what fits, so a
# chunk is never cut shorter than this fraction of its budget to reach a better break.
_MIN_FILL = 0.5


@dataclass(frozen=True, slots=True)
class _Piece:
    start: int
    end: int
    level: int  # strength of the boundary at `end` (0 = page break ... _HARD)
    cost: int


def needs_chunking(*, text: str, max_tokens: int) -> bool:
    """Say whether text is estimated to exceed max_tokens and must be split."""
    return estimate_tokens(text) > max_tokens


def split_document(*, text: str, max_tokens: int, overlap_chars: int) -> list[str]:
    """Split text into ordered chunks within max_tokens, each overlapping the previous."""
    if max_tokens < 1 or overlap_chars < 0:
        raise ValueError("max_tokens must be >= 1 and overlap_chars >= 0")
    if not needs_chunking(text=text, max_tokens=max_tokens):
        return [text]
    # The overlap may take at most half of a chunk's budget; pieces are made small
    # enough that one always fits next to the largest allowed overlap.
    overlap_cap = max_tokens // 2 if overlap_chars else 0
    pieces: list[_Piece] = []
    _split(text, 0, len(text), level=0, budget=max_tokens - overlap_cap, end_level=0, out=pieces)
    return _pack(text, pieces, max_tokens, overlap_chars, overlap_cap)


def _split(
    text: str,
    start: int,
    end: int,
    *,
    level: int,
    budget: int,
    end_level: int,
    out: list[_Piece],
) -> None:
    """Append pieces of text[start:end] that each fit budget, splitting as weakly as needed."""
    cost = estimate_tokens(text[start:end])
    if cost <= budget:
        out.append(_Piece(start, end, end_level, cost))
        return
    if level == _HARD:
        _hard_cut(text, start, end, budget=budget, end_level=end_level, out=out)
        return
    cuts = [m.end() for m in _SEPARATORS[level].finditer(text, start, end) if m.end() < end]
    bounds = [start, *cuts, end]
    for a, b in itertools.pairwise(bounds):
        _split(
            text,
            a,
            b,
            level=level + 1,
            budget=budget,
            end_level=level if b < end else end_level,
            out=out,
        )


def _hard_cut(
    text: str, start: int, end: int, *, budget: int, end_level: int, out: list[_Piece]
) -> None:
    """Cut text[start:end] into character windows that each fit budget."""
    pos = start
    while pos < end:
        # Start from a generous window (runs like "-----" pack ~64 chars a token) and
        # shrink proportionally; windows are bounded so a huge blob stays linear.
        size = min(end - pos, budget * 64)
        cost = estimate_tokens(text[pos : pos + size])
        while cost > budget and size > 1:
            size = max(1, min(size - 1, size * budget // cost))
            cost = estimate_tokens(text[pos : pos + size])
        out.append(_Piece(pos, pos + size, end_level if pos + size == end else _HARD, cost))
        pos += size


def _pack(
    text: str, pieces: list[_Piece], max_tokens: int, overlap_chars: int, overlap_cap: int
) -> list[str]:
    """Greedily pack pieces into chunks within max_tokens, prefixing each with overlap."""
    chunks: list[str] = []
    i = 0
    prefix_start = pieces[0].start
    while i < len(pieces):
        content_start = pieces[i].start
        prefix_cost = estimate_tokens(text[prefix_start:content_start])
        j, taken = i, 0
        while j < len(pieces) and prefix_cost + taken + pieces[j].cost <= max_tokens:
            taken += pieces[j].cost
            j += 1
        if j < len(pieces) and j > i:
            j = _best_break(pieces, i, j, taken)
        j = _fit(text, pieces, prefix_start, i=i, j=j, max_tokens=max_tokens)
        if j == i or estimate_tokens(text[prefix_start : pieces[j - 1].end]) > max_tokens:
            if prefix_start < content_start:
                # Even one piece does not fit beside this overlap: shrink the overlap.
                prefix_start = _shrink(text, prefix_start, content_start)
                continue
            j = i + 1  # unreachable by construction: every piece alone fits
        chunk_end = pieces[j - 1].end
        chunks.append(text[prefix_start:chunk_end])
        i = j
        prefix_start = _overlap_start(text, prefix_start, chunk_end, overlap_chars, overlap_cap)
    return chunks


def _fit(text: str, pieces: list[_Piece], start: int, *, i: int, j: int, max_tokens: int) -> int:
    """Drop trailing pieces until text[start:pieces[j-1].end] really fits max_tokens."""
    # Piece costs are estimated separately and do not add up exactly (rounding, pieces
    # merging across a boundary; CJK can undercount by ~20%), so measure the whole.
    while j > i + 1:
        excess = estimate_tokens(text[start : pieces[j - 1].end]) - max_tokens
        if excess <= 0:
            break
        # Drop about as many tokens as the excess at once, so this stays a few passes.
        while j > i + 1 and excess > 0:
            j -= 1
            excess -= max(1, pieces[j].cost)
    return j


def _best_break(pieces: list[_Piece], i: int, j: int, taken: int) -> int:
    """Pick where to end a chunk holding pieces[i:j]: the strongest late boundary."""
    best, best_level, filled = j, pieces[j - 1].level, 0
    for k in range(i, j):
        filled += pieces[k].cost
        # `<=` keeps the latest of equally strong boundaries: fuller chunks, fewer calls.
        if filled >= _MIN_FILL * taken and pieces[k].level <= best_level:
            best, best_level = k + 1, pieces[k].level
    return best


def _overlap_start(text: str, chunk_start: int, chunk_end: int, chars: int, cap: int) -> int:
    """Where the next chunk starts: about `chars` before chunk_end, at a word boundary."""
    if chars == 0 or cap == 0:
        return chunk_end
    start = max(chunk_start, chunk_end - chars)
    if start > chunk_start and not text[start - 1].isspace() and not text[start].isspace():
        # Mid-word: move to the next word start, unless the tail has no spaces at all
        # (CJK, long identifiers), where a mid-word cut beats no overlap.
        space = re.compile(r"\s+").search(text, start, chunk_end)
        if space and space.end() < chunk_end:
            start = space.end()
    while start < chunk_end and estimate_tokens(text[start:chunk_end]) > cap:
        start = _shrink(text, start, chunk_end)
    return start


def _shrink(text: str, start: int, end: int) -> int:
    """Halve the overlap text[start:end], keeping a word boundary where there is one."""
    middle = start + (end - start + 1) // 2
    space = re.compile(r"\s+").search(text, middle, end)
    return space.end() if space and space.end() < end else middle
