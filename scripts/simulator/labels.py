"""Where a document states a field: "Label: value" lines, label candidates, simple tables."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field

# Directives are test instructions, never document content: lines are cut at them.
DIRECTIVE_RE = re.compile(r"\[\[sim:[^\]]*\]\]")
_DOCUMENT_OPEN = re.compile(r"<document(?:\s[^>]*)?>", re.IGNORECASE)
_DOCUMENT_CLOSE = "</document>"
# A column: words separated by single spaces; two or more spaces (or a tab) end it.
_COLUMN_RE = re.compile(r"[^ \t]+(?: [^ \t]+)*")
_TOKEN_RE = re.compile(r"[a-z0-9]+|#")
_CAMEL_RE = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_CHECKBOX_RE = re.compile(r"^\[\s*([xX✓✔]?)\s*\]\s*(\S.*)$")
# Inline separators between fields of one line: "Issued: 1 May · Due: 1 June", "Ada — ada@x.org".
_SEPARATOR_RE = re.compile(r"\s+[·•|;\u2013\u2014]\s+")
_MARKDOWN_LEAD = re.compile(r"^(?:#{1,6}\s+|[-*+>]\s+)")
_PIPE_RULE = re.compile(r":?-{2,}:?")
_MARKUP = "*_`"
MAX_LABEL_TOKENS = 6
MIN_TABLE_COLUMNS = 3

# Spellings documents use for the words keys are made of.
CANON = {"no": "number", "nr": "number", "num": "number", "#": "number", "qty": "quantity"}
CANON |= {"vat": "tax", "gst": "tax", "amt": "amount", "ref": "reference", "tel": "phone"}
# Leaf keys too vague to stand alone inside an object: vendor.name is "Vendor", not "Name".
GENERIC = frozenset({"name", "value", "id", "number", "code", "title", "text", "type"})
PHRASES: dict[tuple[str, ...], tuple[tuple[str, ...], ...]] = {
    ("total",): (("amount", "due"), ("total", "due"), ("balance", "due"), ("grand", "total")),
    ("vendor",): (("seller",), ("supplier",), ("from",)),
    ("customer",): (("bill", "to"), ("billed", "to"), ("sold", "to")),
    ("buyer",): (("bill", "to"), ("billed", "to"), ("sold", "to")),
    ("issue", "date"): (("issued",), ("invoice", "date"), ("date", "of", "issue"), ("date",)),
    ("due", "date"): (("due",), ("payment", "due")),
    ("description",): (("item",), ("product",), ("service",)),
    ("unit", "price"): (("price",), ("unit",), ("unit", "cost"), ("rate",)),
}
_STOPWORDS = frozenset({"of", "for", "to", "and", "the", "in", "on", "at", "by", "with", "from"})


def tokens(text: str) -> tuple[str, ...]:
    """The canonical lower-case words of a label or key ("Invoice No." -> invoice, number)."""
    spaced = _CAMEL_RE.sub(" ", text).lower()
    return tuple(CANON.get(t, t) for t in _TOKEN_RE.findall(spaced))


def document_text(prompt: str) -> str:
    """The text inside the prompt's <document> block as sent; the whole prompt if it has none."""
    opened = _DOCUMENT_OPEN.search(prompt)
    if opened is None:
        return prompt
    # The engine escapes document tags inside the text, so the first close is the real one.
    end = prompt.find(_DOCUMENT_CLOSE, opened.end())
    return prompt[opened.end() : end if end != -1 else len(prompt)]


@dataclass(frozen=True)
class Candidate:
    """One label a field may be printed under; `identifier` values must look like ids."""

    words: tuple[str, ...]
    identifier: bool = False


def candidates(keys: tuple[str, ...], title: str | None = None) -> list[Candidate]:
    """Labels for the leaf at object keys `keys`, most specific first."""
    if not keys:
        return []
    words = [tokens(k) for k in keys]
    leaf = words[-1] if words else ()
    found: list[tuple[str, ...]] = [tuple(w for part in words for w in part)]
    if len(words) > 1:
        found.append((*words[-2], *leaf))
    if len(words) == 1 or keys[-1].lower() not in GENERIC:
        found.append(leaf)
    if title and tokens(title) != leaf:  # Pydantic's titles mostly repeat the key
        found.append(tokens(title))
    if len(words) > 1 and keys[-1].lower() in GENERIC:
        found.append(words[-2])
    found += [alt for f in list(found) for alt in PHRASES.get(f, ())]
    out = [Candidate(f) for f in dict.fromkeys(found) if f]
    if len(leaf) > 1 and leaf[-1] in ("number", "id"):
        out.append(Candidate(leaf[:-1], identifier=True))  # "INVOICE INV-2041"
    return out


@dataclass(frozen=True)
class Pair:
    """A label and the value printed beside it, and the verbatim text holding both."""

    label: str
    value: str
    quote: str


@dataclass(frozen=True)
class Row:
    """One table row: its cells and its verbatim line."""

    cells: tuple[str, ...]
    quote: str


@dataclass
class Table:
    """A header line of column names and the rows under it."""

    headers: tuple[str, ...]
    rows: list[Row] = field(default_factory=list)


def _columns(piece: str) -> list[tuple[int, int]]:
    return [(m.start(), m.end()) for m in _COLUMN_RE.finditer(piece)]


def _pieces(text: str) -> Iterator[list[str]]:
    """Each line's pieces around directives, stripped of markdown heading and bullet marks."""
    for line in text.splitlines():
        pieces = (_MARKDOWN_LEAD.sub("", p.strip()).strip() for p in DIRECTIVE_RE.split(line))
        yield [p for p in pieces if p]


def _cells(piece: str) -> tuple[tuple[str, ...], bool]:
    """A line's table cells: between pipes in a markdown table, else its columns."""
    if piece.startswith("|") and piece.count("|") >= 2:
        return tuple(c.strip() for c in piece.strip().strip("|").split("|")), True
    return tuple(piece[a:b] for a, b in _columns(piece)), False


def _is_header(cells: tuple[str, ...], piped: bool) -> bool:
    return len(cells) >= (2 if piped else MIN_TABLE_COLUMNS) and all(
        not any(c.isdigit() for c in col) and ":" not in col and tokens(col) for col in cells
    )


def _unmark(text: str) -> str:
    """Text without markdown emphasis around it ("**Total" -> "Total")."""
    return text.strip().strip(_MARKUP).strip()


class DocIndex:
    """A document's labelled values, colon-free columns and tables, found in one pass."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pairs: dict[tuple[str, ...], list[Pair]] = {}
        self.columns: dict[str, list[str]] = {}  # first word -> colon-free columns
        self.tables: list[Table] = []
        self.heading: str | None = None
        table: Table | None = None
        for pieces in _pieces(text):
            if not pieces:
                table = None
                continue
            if self.heading is None:
                self.heading = pieces[0]
            cells, piped = _cells(pieces[0]) if len(pieces) == 1 else ((), False)
            if table is not None and piped and all(_PIPE_RULE.fullmatch(c) for c in cells):
                continue  # the |---|---| line under a markdown header
            if table is not None and cells and len(cells) == len(table.headers):
                table.rows.append(Row(cells, pieces[0]))
                continue
            table = None
            if cells and _is_header(cells, piped):
                table = Table(cells)
                self.tables.append(table)
                continue
            for piece in pieces:
                self._scan(piece)
        self.tables = [t for t in self.tables if t.rows]

    def _scan(self, piece: str) -> None:
        """Record the label/value pairs and colon-free cells of one piece of a line."""
        spans = [
            (start + a, start + b)
            for start, end in _columns(piece)
            for a, b in _split(piece[start:end])
        ]
        for i, (start, end) in enumerate(spans):
            col = piece[start:end]
            nxt = spans[i + 1] if i + 1 < len(spans) else None
            box = _CHECKBOX_RE.match(col)
            if box:
                self._add(box.group(2), "[X]" if box.group(1) else "[ ]", col)
            elif ":" in col:
                label, _, value = col.partition(":")
                if _unmark(value):
                    self._add(label, _unmark(value), col)
                elif nxt is not None:  # "Bill to:    Globex"
                    self._add(label, _unmark(piece[nxt[0] : nxt[1]]), piece[start : nxt[1]])
            else:
                first = tokens(col)[:1]
                if first:
                    self.columns.setdefault(first[0], []).append(col)
                if nxt is not None and ":" not in piece[nxt[0] : nxt[1]]:
                    self._add(col, piece[nxt[0] : nxt[1]], piece[start : nxt[1]])

    def _add(self, label: str, value: str, quote: str) -> None:
        words = tokens(label)
        if words and len(words) <= MAX_LABEL_TOKENS and any(c.isalpha() for c in label):
            self.pairs.setdefault(words, []).append(Pair(_unmark(label), value, quote))

    def lookup(self, candidate: Candidate) -> Iterator[Pair]:
        """Every value printed under the candidate label, labelled lines first, in order."""
        found = [*self.pairs.get(candidate.words, [])]
        for col in self.columns.get(candidate.words[0], []):
            pair = _prefixed(col, candidate.words)
            if pair is not None:
                found.append(pair)
        for pair in found:
            if not candidate.identifier:
                yield pair
                continue
            head = pair.value.split()[0].rstrip(".,;")
            if _identifier(head):  # "Invoice 2026-0117, Nimbus" -> 2026-0117
                yield Pair(pair.label, head, pair.quote)

    def search(self, pattern: re.Pattern[str]) -> tuple[str, str] | None:
        """The first match of `pattern` in a part of a line, and that part as the quote."""
        for pieces in _pieces(self.text):
            for piece in pieces:
                for start, end in _columns(piece):
                    for a, b in _split(piece[start:end]):
                        found = pattern.search(piece[start + a : start + b])
                        if found:
                            return found.group(), piece[start + a : start + b]
        return None

    def lead(self) -> str | None:
        """The first part of the first line ("Ada Lovelace" of "Ada Lovelace — ada@x.org")."""
        if self.heading is None:
            return None
        a, b = _split(self.heading)[0]
        return self.heading[a:b].strip() or None


def _split(column: str) -> list[tuple[int, int]]:
    """Spans of a column's parts between inline separators."""
    spans, start = [], 0
    for match in _SEPARATOR_RE.finditer(column):
        spans.append((start, match.start()))
        start = match.end()
    return [*spans, (start, len(column))]


def _prefixed(col: str, words: tuple[str, ...]) -> Pair | None:
    """ "Total 150.54 EUR" read as label "Total" and value "150.54 EUR", if `words` lead it."""
    found = list(re.finditer(r"[A-Za-z0-9]+|#", col))
    if len(found) <= len(words):
        return None
    lead = tuple(CANON.get(m.group().lower(), m.group().lower()) for m in found[: len(words)])
    if lead != words:
        return None
    cut = found[len(words) - 1].end()
    value = col[cut:].lstrip(" .:#-\u2013")
    if not value or value.split()[0].lower() in _STOPWORDS:
        return None
    return Pair(col[:cut].strip(), value, col)


def _identifier(word: str) -> bool:
    """An id: letters, digits, - and /, a digit among them ("INV-7", "2291"; not "0.00", "19%")."""
    return bool(re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9/-]*", word)) and any(c.isdigit() for c in word)
