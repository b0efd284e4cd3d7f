"""One page's text rebuilt from Tesseract's word table, with each word's place in it.

`pytesseract.image_to_data(..., output_type=DICT)` gives one row per block, paragraph,
line and word; only word rows carry a confidence (the others have -1). The page text puts
spaces between the words of a line, a newline between lines and paragraphs, and a blank
line between blocks, so a quote found in the text maps back to the words it covers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from tasks.documents.sniff import clean

__all__ = ["PageWord", "page_layout"]

_Key = tuple[int, int, int]  # (block_num, par_num, line_num)


@dataclass(frozen=True, slots=True)
class PageWord:
    """A recognised word: `text[start:end]` of its page, and Tesseract's confidence 0-1."""

    start: int
    end: int
    conf: float


def _number(value: object) -> float | None:
    """A table cell as a number (pytesseract leaves unparsable cells as strings)."""
    if isinstance(value, int | float):
        return float(value)
    try:
        return float(str(value))
    except ValueError:
        return None


def _separator(previous: _Key | None, key: _Key) -> str:
    if previous is None:
        return ""
    if key[0] != previous[0]:
        return "\n\n"
    return " " if key == previous else "\n"


def page_layout(data: Mapping[str, Sequence[object]]) -> tuple[str, list[PageWord]]:
    """The page text and its words (in reading order) from an image_to_data DICT."""
    parts: list[str] = []
    words: list[PageWord] = []
    position = 0
    previous: _Key | None = None
    columns = zip(
        data["block_num"],
        data["par_num"],
        data["line_num"],
        data["conf"],
        data["text"],
        strict=True,  # a ragged table is unreadable, not silently misaligned
    )
    for block, par, line, conf_cell, raw in columns:
        conf = _number(conf_cell)
        # Form feeds would fake page breaks for the chunker; runs of spaces are noise.
        word = " ".join(clean(str(raw)).replace("\f", " ").split())
        if conf is None or conf < 0 or not word:
            continue  # conf -1: a block, paragraph or line row, not a word
        key = (int(_number(block) or 0), int(_number(par) or 0), int(_number(line) or 0))
        separator = _separator(previous, key)
        start = position + len(separator)
        parts += (separator, word)
        position = start + len(word)
        words.append(PageWord(start=start, end=position, conf=min(conf, 100.0) / 100.0))
        previous = key
    return "".join(parts), words
