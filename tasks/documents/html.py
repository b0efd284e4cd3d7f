"""HTML text extraction: visible text only, one line per block element."""

from __future__ import annotations

import re
from html.parser import HTMLParser

from tasks.documents.sniff import clean

__all__ = ["html_text"]

_SKIP_TAGS = frozenset({"script", "style", "noscript", "template", "svg"})
# Paragraph-like blocks are separated by a blank line (the chunker splits there);
# line-like ones by a single line break.
_PARAGRAPH_TAGS = frozenset(
    {
        "p",
        "div",
        "table",
        "ul",
        "ol",
        "dl",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "pre",
        "section",
        "article",
        "header",
        "footer",
        "nav",
        "aside",
        "main",
        "blockquote",
        "hr",
        "form",
        "figure",
        "address",
    }
)
_LINE_TAGS = frozenset({"br", "li", "tr", "dt", "dd", "title", "caption", "figcaption"})


class _TextCollector(HTMLParser):
    """Collects visible text, turning block elements into line breaks."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.newlines = 0  # line breaks at the end of the output so far
        self.skip_depth = 0
        self.pre_depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP_TAGS:
            self.skip_depth += 1
        elif tag in _PARAGRAPH_TAGS or tag in _LINE_TAGS:
            self._break(2 if tag in _PARAGRAPH_TAGS else 1)
            self.pre_depth += tag == "pre"
        elif tag in ("td", "th") and self.parts and not self.newlines:
            self.parts.append("\t")  # cells of a row become tab-separated columns

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP_TAGS:
            self.skip_depth = max(0, self.skip_depth - 1)
        elif tag in _PARAGRAPH_TAGS or tag in _LINE_TAGS:
            self.pre_depth = max(0, self.pre_depth - (tag == "pre"))
            self._break(2 if tag in _PARAGRAPH_TAGS else 1)

    def handle_data(self, data: str) -> None:
        if self.skip_depth:
            return
        if not self.pre_depth:
            # Outside <pre>, HTML collapses whitespace runs to one space, and neither a
            # line nor a table cell starts with one.
            data = re.sub(r"\s+", " ", data)
            if not self.parts or self.newlines or self.parts[-1].endswith("\t"):
                data = data.lstrip(" ")
        if data:
            self.parts.append(data)
            self.newlines = len(data) - len(data.rstrip("\n"))

    def _break(self, count: int) -> None:
        if not self.parts:
            return  # no leading blank lines
        if not self.pre_depth:
            self.parts[-1] = self.parts[-1].rstrip(" \t")
        self.parts.append("\n" * max(0, count - self.newlines))
        self.newlines = max(count, self.newlines)


def html_text(markup: str) -> str:
    """Extract visible text from HTML, one line per block element."""
    collector = _TextCollector()
    collector.feed(markup)
    collector.close()
    return clean("".join(collector.parts).strip("\n"))
