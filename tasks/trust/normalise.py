"""Text normalisation for evidence matching, with a map back to the original offsets.

Matching runs on a folded form of the text: NFKC (ligatures, full-width forms), accents
dropped (OCR often loses them), casefolded, curly quotes and dashes unified, whitespace
runs collapsed to one space. `Normalised` keeps how each folded character maps back to the
original text so a match can report original character offsets.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field
from functools import lru_cache

__all__ = ["Normalised", "fold", "prepare"]

_SPACES = "\t\n\v\f\r\x1c\x1d\x1e\x1f\x85\xa0\u1680\u2028\u2029\u202f\u205f\u3000" + "".join(
    chr(c) for c in range(0x2000, 0x200B)
)
_QUOTES = {
    "'": "\u2018\u2019\u201a\u201b\u2032\u00b4`",
    '"': "\u201c\u201d\u201e\u201f\u2033\u00ab\u00bb",
}
_DASHES = "\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58\ufe63\uff0d"
_TABLE = str.maketrans(
    {
        **dict.fromkeys(_SPACES, " "),
        **{c: plain for plain, chars in _QUOTES.items() for c in chars},
        **dict.fromkeys(_DASHES, "-"),
    }
)
# ASCII folds one to one (case, whitespace, backtick); other characters are folded once per
# distinct character of a document, so the whole text is folded by one str.translate.
_ASCII = {c: str(_TABLE.get(c, chr(c).lower())) for c in range(128)}
_ASCII_CHARS = frozenset(map(chr, range(128)))


@lru_cache(maxsize=65536)
def _fold_char(ch: str) -> str:
    if unicodedata.category(ch) == "Cf":  # zero-width spaces, soft hyphens, BOMs
        return ""
    bare = "".join(c for c in unicodedata.normalize("NFKD", ch) if not unicodedata.combining(c))
    folded = unicodedata.normalize("NFKC", bare).casefold()
    return str(_TABLE.get(ord(folded), folded)) if len(folded) == 1 else folded.translate(_TABLE)


@dataclass
class _Segments:
    """Piecewise map: folded run [norm, norm+nlen) came from original [orig, orig+olen)."""

    norm: list[int] = field(default_factory=list)
    orig: list[int] = field(default_factory=list)
    nlen: list[int] = field(default_factory=list)
    olen: list[int] = field(default_factory=list)
    linear: list[bool] = field(default_factory=list)
    pieces: list[str] = field(default_factory=list)
    size: int = 0

    def add(self, piece: str, orig: int, olen: int) -> None:
        if not piece:
            return
        linear = len(piece) == olen
        if linear and self.linear and self.linear[-1] and self.orig[-1] + self.olen[-1] == orig:
            self.nlen[-1] += olen
            self.olen[-1] += olen
        else:
            self.norm.append(self.size)
            self.orig.append(orig)
            self.nlen.append(len(piece))
            self.olen.append(olen)
            self.linear.append(linear)
        self.pieces.append(piece)
        self.size += len(piece)


@dataclass(frozen=True)
class Normalised:
    """A text in folded form, and the way back to the original's offsets."""

    original: str
    text: str
    _map: _Segments
    _pages: list[int]  # offsets of the form feeds that separate pages

    def start(self, i: int) -> int:
        """Original offset of folded character `i`."""
        k = bisect_right(self._map.norm, i) - 1
        if self._map.linear[k]:
            return self._map.orig[k] + i - self._map.norm[k]
        return self._map.orig[k]

    def end(self, j: int) -> int:
        """Original end offset (exclusive) of a folded span ending before `j`."""
        k = bisect_right(self._map.norm, j - 1) - 1
        if self._map.linear[k]:
            return self._map.orig[k] + j - self._map.norm[k]
        return self._map.orig[k] + self._map.olen[k]

    def page(self, offset: int) -> int:
        """1-based page of an original offset (form feeds before it, plus one)."""
        return bisect_left(self._pages, offset) + 1


def _build(text: str) -> Normalised:
    table: dict[int, str] = dict(_ASCII)
    uneven: list[str] = []  # characters that fold to zero or several characters
    for ch in set(text) - _ASCII_CHARS:
        folded = _fold_char(ch)
        if len(folded) == 1:
            table[ord(ch)] = folded
        else:
            uneven.append(ch)
    source = text.translate(table)  # one to one so far: offsets still hold
    # What breaks the one-to-one map: runs of spaces (collapsed) and uneven characters.
    pattern = " {2,}" + (f"|[{''.join(map(re.escape, uneven))}]" if uneven else "")
    segments = _Segments()
    pos = 0
    for match in re.finditer(pattern, source):
        if match.start() > pos:
            segments.add(source[pos : match.start()], pos, match.start() - pos)
        run = match.group()
        segments.add(" " if run[0] == " " else _fold_char(run), match.start(), len(run))
        pos = match.end()
    if pos < len(source):
        segments.add(source[pos:], pos, len(source) - pos)
    pages = [m.start() for m in re.finditer("\f", text)]
    return Normalised(original=text, text="".join(segments.pieces), _map=segments, _pages=pages)


@lru_cache(maxsize=2)  # a worker assesses one document's quotes one after another
def prepare(text: str) -> Normalised:
    """The folded form of a document, with its offset map (the last two texts are cached)."""
    return _build(text)


def fold(text: str) -> str:
    """The folded form of a short text (a quote or a value), stripped."""
    return _build(text).text.strip()
