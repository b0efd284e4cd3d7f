"""Grounded data: a generated answer whose leaves are replaced by what the document states.

A leaf the document states (see labels.py) takes the printed value and a verbatim quote;
one it does not state becomes null where the schema allows, else keeps the generated value
with no quote. Arrays are filled from a table whose header names their item fields.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from scripts.simulator.answers import schema_resolver
from scripts.simulator.coerce import allows_null, coerce
from scripts.simulator.formats import answer_checker, has_type
from scripts.simulator.labels import GENERIC, DocIndex, Table, candidates, tokens
from scripts.simulator.rules import CURRENCIES

MAX_QUOTE = 1000  # the envelope's Quote.quote maxLength
MAX_HEADING = 80
MAX_NAME_WORDS = 5
MAX_TITLE_WORDS = 12
# Invoices open with the issuer's name: the one unlabelled value worth reading.
ISSUER_WORDS = frozenset({"vendor", "seller", "supplier", "issuer"})
# Fields a model writes in its own words, drawn here from the document's first sentence.
PROSE_WORDS = frozenset({"summary", "description", "narrative", "abstract", "overview"})
_SENTENCE_END = re.compile(r"(?<=[.!?])\s")
_LIST_SPLIT = re.compile(r"\s*[,;]\s*|\s+and\s+")
_PATTERNS = {
    "currency": re.compile(r"\b(?:" + "|".join(sorted(CURRENCIES)) + r")\b"),
    "email": re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+"),
    "phone": re.compile(r"\+?\(?\d(?:[ ()/.-]{0,2}\d){8,}"),  # 9+ digits: never a date
}


def pointer(parts: tuple[str | int, ...]) -> str:
    """The JSON Pointer of a path of keys and indices ("" for the root)."""
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


@dataclass(frozen=True)
class Found:
    """A leaf the document states: its value, the quote holding it, its label, its schema."""

    value: Any
    quote: str
    label: str  # the label as printed ("" when the value stands alone): fake quotes reuse it
    schema: dict[str, Any]
    keys: tuple[str, ...]  # the object keys on its path, for plausible replacements


class Grounder:
    """Walks a generated value beside its schema, grounding the leaves the document states."""

    def __init__(
        self, root: dict[str, Any], index: DocIndex, skip: frozenset[str], *, part: bool = False
    ) -> None:
        # `part`: the prompt is one chunk of a longer document. A model still answers what
        # it can infer there (a language, a kind), so unstated scalars keep their generated
        # value (unquoted: the trust check flags them) instead of going null.
        self.part = part
        self.resolve = schema_resolver(root)
        self.checker = answer_checker(root)
        self.index = index
        self.skip = skip  # pointers whose subtrees keep the generated value
        self.found: dict[str, Found] = {}

    def valid(self, schema: dict[str, Any], value: Any) -> bool:
        """Whether `value` validates against the (sub)schema."""
        try:
            return bool(self.checker.evolve(schema=schema).is_valid(value))
        except Exception:  # noqa: BLE001 - a schema jsonschema cannot read grounds nothing
            return False

    def node(self, schema: Any, value: Any, parts: tuple[str | int, ...] = ()) -> Any:
        """The grounded version of `value` (generated for `schema`) at path `parts`."""
        ptr = pointer(parts)
        if any(ptr == s or ptr.startswith(f"{s}/") for s in self.skip):
            return value
        schema = schema if isinstance(schema, dict) else {}
        branch = self._branch(self.resolve(schema), value)
        if isinstance(value, dict):
            return self._object(schema, branch, value, parts)
        if isinstance(value, list):
            return self._array(schema, branch, value, parts)
        return self._leaf(schema, value, parts)

    def _branch(self, s: dict[str, Any], value: Any) -> dict[str, Any]:
        """The anyOf/oneOf branch the generated value came from, sibling keywords kept."""
        options = s.get("anyOf") or s.get("oneOf")
        if not options:
            return s
        siblings = {k: v for k, v in s.items() if k not in ("anyOf", "oneOf")}
        for option in options:
            branch = self.resolve(option)
            kind = branch.get("type") or ("object" if "properties" in branch else None)
            if kind is not None and has_type(value, kind):
                return {**siblings, **self._branch(branch, value)}
        return s

    def _object(
        self, schema: dict[str, Any], s: dict[str, Any], value: dict[str, Any], parts: Any
    ) -> dict[str, Any] | None:
        props = s.get("properties") or {}
        extra = s.get("additionalProperties")
        out = {k: self.node(props.get(k, extra), v, (*parts, k)) for k, v in value.items()}
        prefix = pointer(parts) + "/"
        stated = any(p.startswith(prefix) for p in self.found)
        if parts and not stated and not self.part and allows_null(schema, self.resolve):
            return None  # an optional part the document says nothing about
        return out

    def _array(
        self, schema: dict[str, Any], s: dict[str, Any], value: list[Any], parts: Any
    ) -> list[Any] | None:
        if any(isinstance(p, int) for p in parts):
            return value  # lists inside list items: no document layout to read them from
        rows = self._table(s, value, parts)
        if rows is None:
            rows = self._listed(s, parts)
        if rows is not None:
            return rows
        if self.part:
            return value  # a chunk's lists: what a model would infer there, unquoted
        if allows_null(schema, self.resolve):
            return None
        return [] if int(s.get("minItems", 0)) == 0 else value

    def _table(self, s: dict[str, Any], generated: list[Any], parts: Any) -> list[Any] | None:
        """Items read from the table whose header names the most item fields (two at least)."""
        items = s.get("items") if isinstance(s.get("items"), dict) else {}
        item = self._branch(self.resolve(items), generated[0] if generated else {})
        props: dict[str, Any] = item.get("properties") or {}
        if not props or not generated or not all(isinstance(g, dict) for g in generated):
            return None
        best: tuple[Table, dict[str, int]] | None = None
        for table in self.index.tables:
            columns = {tokens(h): i for i, h in enumerate(table.headers)}
            mapping: dict[str, int] = {}
            for key, sub in props.items():
                title = self.resolve(sub).get("title")
                words = [c.words for c in candidates((key,), title) if not c.identifier]
                hit = next((columns[w] for w in words if w in columns), None)
                if hit is not None:
                    mapping[key] = hit
            if len(mapping) >= 2 and (best is None or len(mapping) > len(best[1])):
                best = (table, mapping)
        if best is None:
            return None
        table, mapping = best
        rows = table.rows[: int(s.get("maxItems", len(table.rows)))]
        if len(rows) < int(s.get("minItems", 0)):
            return None
        out: list[Any] = []
        for i, row in enumerate(rows):
            template = generated[i % len(generated)]
            keys = dict.fromkeys([*(k for k in props if k in template or k in mapping), *template])
            cell: dict[str, Any] = {}
            for key in keys:
                sub = props.get(key, {})
                col = mapping.get(key)
                ok, read = (False, None)
                if col is not None and pointer((*parts, i, key)) not in self.skip:
                    ok, read = coerce(sub, row.cells[col], self.resolve, self._check(sub))
                if ok:
                    path = pointer((*parts, i, key))
                    self.found[path] = Found(read, row.quote, table.headers[col or 0], sub, (key,))
                    cell[key] = read
                else:
                    cell[key] = None if allows_null(sub, self.resolve) else template.get(key)
            out.append(cell)
        return out

    def _listed(self, s: dict[str, Any], parts: tuple[str | int, ...]) -> list[Any] | None:
        """A list of scalars printed as "Skills: Python, Rust and SQL"."""
        items: dict[str, Any] = s["items"] if isinstance(s.get("items"), dict) else {}
        if self.resolve(items).get("type") in ("object", "array", None):
            return None
        keys = tuple(p for p in parts if isinstance(p, str))
        for cand in candidates(keys, None):
            for pair in self.index.lookup(cand):
                texts = [t for t in _LIST_SPLIT.split(pair.value) if t.strip()]
                read = [coerce(items, t, self.resolve, self._check(items)) for t in texts]
                values = [v for ok, v in read if ok]
                if not texts or len(values) < len(texts) or len(pair.quote) > MAX_QUOTE:
                    continue
                values = values[: int(s.get("maxItems", len(values)))]
                if not self.valid(s, values):
                    continue
                for i, value in enumerate(values):
                    self.found[pointer((*parts, i))] = Found(
                        value, pair.quote, pair.label, items, keys
                    )
                return values
        return None

    def _check(self, schema: dict[str, Any]) -> Any:
        return lambda value: self.valid(schema, value)

    def _leaf(self, schema: dict[str, Any], value: Any, parts: tuple[str | int, ...]) -> Any:
        keys = tuple(p for p in parts if isinstance(p, str))
        title = self.resolve(schema).get("title")
        for cand in candidates(keys, title if isinstance(title, str) else None):
            for pair in self.index.lookup(cand):
                ok, read = coerce(schema, pair.value, self.resolve, self._check(schema))
                if ok and len(pair.quote) <= MAX_QUOTE:
                    self.found[pointer(parts)] = Found(read, pair.quote, pair.label, schema, keys)
                    return read
        for text, quote in self._unlabelled(keys):
            ok, read = coerce(schema, text, self.resolve, self._check(schema))
            if ok:
                self.found[pointer(parts)] = Found(read, quote, "", schema, keys)
                return read
        prose = self._prose(schema, keys)
        if prose is not None:
            self.found[pointer(parts)] = Found(prose, prose, "", schema, keys)
            return prose
        return None if allows_null(schema, self.resolve) and not self.part else value

    def _prose(self, schema: dict[str, Any], keys: tuple[str, ...]) -> str | None:
        """A summary-like field no label states, written as a model would: extractively.

        Its value is the document's opening sentence (cut to the schema's maxLength), and
        that sentence is its quote, so the trust check can find it.
        """
        s = self.resolve(schema)
        free = not any(k in s for k in ("enum", "const", "format", "pattern"))
        if not keys or not free or not PROSE_WORDS & set(tokens(keys[-1])):
            return None
        limit = int(s.get("maxLength", MAX_QUOTE))
        for line in self.index.text.splitlines():
            sentence = _SENTENCE_END.split(line.strip(), maxsplit=1)[0].strip()
            if len(sentence) >= max(12, int(s.get("minLength", 0))) and "[[sim:" not in sentence:
                sentence = sentence[: min(limit, MAX_QUOTE)].strip()
                return sentence if self.valid(schema, sentence) else None
        return None

    def _unlabelled(self, keys: tuple[str, ...]) -> list[tuple[str, str]]:
        """(value, quote) for the unlabelled kinds read: the heading's name or title, the
        currency code, an email address or a phone number found anywhere."""
        words = [w for k in keys for w in tokens(k)]
        leaf = tokens(keys[-1]) if keys else ()
        lead = self.index.lead() or ""
        issuer = bool(ISSUER_WORDS.intersection(words)) and (
            len(keys) == 1 or keys[-1].lower() in GENERIC
        )
        top_name = len(keys) == 1 and leaf in (("name",), ("full", "name"))
        if (issuer or top_name) and _title_like(lead, words=MAX_NAME_WORDS):
            return [(lead, lead)]
        if keys == ("title",) and _title_like(lead, words=MAX_TITLE_WORDS, digits=True):
            return [(lead, lead)]
        for word, pattern in _PATTERNS.items():
            if word in leaf:
                found = self.index.search(pattern)
                return [] if found is None or len(found[1]) > MAX_QUOTE else [found]
        return []


def _title_like(line: str, *, words: int, digits: bool = False) -> bool:
    """A first line that reads as a name (or title): short, no label, no markup."""
    first = tokens(line)[:1]
    return (
        0 < len(line) <= MAX_HEADING
        and len(line.split()) <= words
        and not any(c in line for c in ":<>{}")
        and (digits or not any(c.isdigit() for c in line))
        and (digits or first not in (("invoice",), ("receipt",), ("contract",), ("agreement",)))
    )
