"""Schema-valid answers built from a JSON Schema, with string values drawn from the document."""

from __future__ import annotations

import datetime as dt
import json
import math
import random
import re
import uuid
import zlib
from typing import Any

from scripts.simulator.patterns import sample_pattern
from scripts.simulator.rules import apply_object_rules, coded_string

# Only the head of a document feeds the word pool: big documents must not cost per request.
WORD_SCAN_CHARS = 20_000
MAX_WORDS = 2_000
# Past this depth recursive schemas get only required fields, minimal lists and nulls.
SOFT_DEPTH = 8
HARD_DEPTH = 16
FALLBACK_WORDS = ("alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel")
INVALID_MARKER = "__sim_invalid__"

_WORD_RE = re.compile(r"[A-Za-z][A-Za-z0-9-]{2,23}")
_DIRECTIVE_RE = re.compile(r"\[\[sim:[^\]]*\]\]")
_SCHEMA_HINT_RE = re.compile(r"json[_ ]?schema", re.IGNORECASE)
_BASE_DATE = dt.date(2023, 1, 1)


def document_words(text: str) -> list[str]:
    """Distinct words from the document's head in order of appearance, directives removed."""
    head = _DIRECTIVE_RE.sub(" ", text[:WORD_SCAN_CHARS])
    words = list(dict.fromkeys(m.group(0).rstrip("-") for m in _WORD_RE.finditer(head)))
    return words[:MAX_WORDS] or list(FALLBACK_WORDS)


def answer_rng(seed: int, document: str) -> random.Random:
    """A generator seeded by the document, so one document always gets the same answer."""
    head = document[:WORD_SCAN_CHARS].encode("utf-8", "replace")
    return random.Random(f"{seed}:{zlib.crc32(head)}:{len(document)}")


def build_answer(schema: dict[str, Any], document: str, seed: int = 0) -> Any:
    """Build a JSON value valid for `schema`, strings drawn from the document's words."""
    gen = _Generator(schema, document_words(document), answer_rng(seed, document))
    return gen.value(schema, "", 0, _DateCursor(gen.rng))


def make_invalid(answer: Any, schema: dict[str, Any]) -> Any:
    """Well-formed JSON that fails validation: drop a required field, else break a field's type."""
    root = _Generator(schema, list(FALLBACK_WORDS), random.Random(0)).resolve(schema)
    if not isinstance(answer, dict):
        return {INVALID_MARKER: True}
    out = dict(answer)
    required = [name for name in root.get("required", []) if name in out]
    if required:
        del out[required[0]]
        return out
    for name, value in out.items():
        # A list never validates as a scalar and a string never as an object or list.
        out[name] = "not-valid" if isinstance(value, dict | list) else [value]
        return out
    return []  # nothing to break inside an empty object: a list fails any object model


def schema_from_text(text: str) -> dict[str, Any] | None:
    """The first JSON object after a 'json_schema' mention in a prompt (instructor JSON modes)."""
    hint = _SCHEMA_HINT_RE.search(text)
    if hint is None:
        return None
    decoder = json.JSONDecoder()
    start = text.find("{", hint.end())
    while start != -1:
        try:
            found, _ = decoder.raw_decode(text, start)
        except ValueError:
            start = text.find("{", start + 1)
            continue
        return found if isinstance(found, dict) else None
    return None


class _DateCursor:
    """Hands out non-decreasing dates, so date fields of one object are in order."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.current = _BASE_DATE + dt.timedelta(days=rng.randint(0, 900))

    def next(self) -> dt.date:
        value = self.current
        self.current = value + dt.timedelta(days=self.rng.randint(1, 60))
        return value


class _Generator:
    """Walks one schema; holds the root (for $ref), the word pool and the generator."""

    def __init__(self, root: dict[str, Any], words: list[str], rng: random.Random) -> None:
        self.root = root
        self.words = words
        self.rng = rng

    def resolve(self, schema: Any) -> dict[str, Any]:
        """Follow $ref (local pointers) and merge allOf, keeping sibling keywords."""
        if not isinstance(schema, dict):
            return {}
        seen = 0
        while "$ref" in schema and seen < HARD_DEPTH:
            target = self._lookup(str(schema["$ref"]))
            schema = {**target, **{k: v for k, v in schema.items() if k != "$ref"}}
            seen += 1
        if "allOf" in schema:
            merged: dict[str, Any] = {k: v for k, v in schema.items() if k != "allOf"}
            for part in schema["allOf"]:
                sub = self.resolve(part)
                props = {**merged.get("properties", {}), **sub.get("properties", {})}
                required = [*merged.get("required", []), *sub.get("required", [])]
                merged = {**sub, **merged, "properties": props, "required": required}
            schema = merged
        return dict(schema)

    def _lookup(self, ref: str) -> dict[str, Any]:
        node: Any = self.root
        for part in ref.lstrip("#").strip("/").split("/"):
            if not part:
                continue
            key = part.replace("~1", "/").replace("~0", "~")
            node = node.get(key, {}) if isinstance(node, dict) else {}
        return node if isinstance(node, dict) else {}

    def value(self, schema: Any, name: str, depth: int, dates: _DateCursor) -> Any:
        """A value for one (sub)schema; `name` is the property it fills, for light hints."""
        s = self.resolve(schema)
        if depth > HARD_DEPTH:
            return None
        if "const" in s:
            return s["const"]
        if "enum" in s:
            choices = [c for c in s["enum"] if c is not None] or list(s["enum"])
            return self.rng.choice(choices)
        if "anyOf" in s or "oneOf" in s:
            return self.value(self._pick_branch(s, depth), name, depth, dates)
        kind = s.get("type")
        if isinstance(kind, list):
            kind = next((k for k in kind if k != "null"), "null")
        if kind is None:
            kind = "object" if "properties" in s else "array" if "items" in s else "string"
        if kind == "object":
            return self.obj(s, depth)
        if kind == "array":
            return self.array(s, name, depth, dates)
        if kind in ("integer", "number"):
            return self.number(s, name, integer=kind == "integer")
        if kind == "boolean":
            return self.rng.random() < 0.5
        if kind == "null":
            return None
        return self.string(s, name, dates)

    def _pick_branch(self, s: dict[str, Any], depth: int) -> dict[str, Any]:
        """One anyOf/oneOf branch: a real value over null, except to end deep recursion."""
        branches = s.get("anyOf") or s.get("oneOf") or []
        non_null = [b for b in map(self.resolve, branches) if b.get("type") != "null"]
        if non_null and (depth <= SOFT_DEPTH or len(non_null) == len(branches)):
            branch = non_null[0]
        else:
            branch = {"type": "null"}
        if "description" in s:  # hints written on the Optional[...] wrapper
            branch.setdefault("description", s["description"])
        return branch

    def obj(self, s: dict[str, Any], depth: int) -> dict[str, Any]:
        """An object with every property (only required ones past SOFT_DEPTH)."""
        props: dict[str, Any] = s.get("properties") or {}
        required = set(s.get("required") or [])
        dates = _DateCursor(self.rng)  # one cursor per object: its dates run in property order
        out: dict[str, Any] = {}
        for key, sub in props.items():
            if depth > SOFT_DEPTH and key not in required:
                continue
            out[key] = self.value(sub, key, depth + 1, dates)
        extra = s.get("additionalProperties")
        if not props and isinstance(extra, dict) and depth <= SOFT_DEPTH:
            out[self.word().lower()] = self.value(extra, "", depth + 1, dates)
        apply_object_rules(out)
        return out

    def array(self, s: dict[str, Any], name: str, depth: int, dates: _DateCursor) -> list[Any]:
        """One to three items, more if minItems says so, never more than maxItems."""
        low = int(s.get("minItems", 0))
        count = low if depth > SOFT_DEPTH else max(low, self.rng.randint(1, 3))
        if "maxItems" in s:
            count = min(count, int(s["maxItems"]))
        prefix = s.get("prefixItems") or []
        items = s.get("items") if isinstance(s.get("items"), dict) else {}
        if prefix:
            count = max(count, len(prefix)) if items else len(prefix)
        return [
            self.value(prefix[i] if i < len(prefix) else items, name, depth + 1, dates)
            for i in range(count)
        ]

    def number(self, s: dict[str, Any], name: str, *, integer: bool) -> int | float:
        """A number inside minimum/maximum (exclusive bounds honoured), 2 dp for floats."""
        step = 1 if integer else 0.01
        low, high = (
            _bound(s, "minimum", "exclusiveMinimum", step),
            _bound(s, "maximum", "exclusiveMaximum", -step),
        )
        small = integer or name in ("quantity", "qty")
        default_low, default_high = (1.0, 10.0) if small else (1.0, 500.0)
        if low is None:
            if high is None or high >= default_low:
                low = default_low
            else:
                low = 0.0 if high >= 0 else high - default_high
        if high is None:
            high = max(low, default_high) if low < default_high else low + default_high
        if integer:
            lo_i, hi_i = math.ceil(low), math.floor(high)
            value = self.rng.randint(lo_i, max(lo_i, hi_i))
            multiple = s.get("multipleOf")
            if isinstance(multiple, int) and multiple > 0:
                value = max(lo_i, value - value % multiple)
            return value
        drawn = round(self.rng.uniform(low, high), 0 if small else 2)
        return float(min(max(drawn, low), high))

    def string(self, s: dict[str, Any], name: str, dates: _DateCursor) -> str:
        """A non-empty string honouring format (date, date-time, email, uri, uuid) and lengths."""
        fmt = s.get("format")
        lname = name.lower()
        if fmt == "date":
            return dates.next().isoformat()
        if fmt == "date-time":
            return f"{dates.next().isoformat()}T09:30:00Z"
        if fmt == "time":
            return "09:30:00"
        if fmt == "uuid":
            return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))
        if fmt in ("uri", "url") or (fmt is None and lname in ("url", "website")):
            return f"https://example.com/{_slug(self.word())}"
        if fmt in ("email", "idn-email") or (fmt is None and "email" in lname):
            return f"{_slug(self.word())}@example.com"
        code = coded_string(lname, str(s.get("description", "")), self.words)
        if code is not None:
            return code
        text = " ".join(self.word() for _ in range(self.rng.randint(1, 3)))
        return _fit(text, s, self)

    def word(self) -> str:
        """One word from the document's pool."""
        return self.rng.choice(self.words)


def _num(value: Any) -> float | None:
    """The value as a number, or None for non-numbers (bool included)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return None


def _bound(s: dict[str, Any], inclusive: str, exclusive: str, step: float) -> float | None:
    value = _num(s.get(inclusive))
    if value is not None:
        return value
    value = _num(s.get(exclusive))
    return None if value is None else value + step


def _slug(word: str) -> str:
    return re.sub(r"[^a-z0-9]", "", word.lower()) or "user"


def _fit(text: str, s: dict[str, Any], gen: _Generator) -> str:
    """Pad to minLength and cut to maxLength; with a pattern, build a string that matches it."""
    min_len = int(s.get("minLength", 1))
    max_len = int(s.get("maxLength", 10_000))
    while len(text) < min_len:
        text = f"{text} {gen.word()}"
    text = text[: max(1, max_len)].strip() or "x"
    pattern = s.get("pattern")
    if not isinstance(pattern, str) or _matches(pattern, text):
        return text
    for _ in range(5):  # repeats are drawn at random: a few tries usually fit the lengths
        made = sample_pattern(pattern, gen.rng)
        if made is not None and min_len <= len(made) <= max_len:
            return made
    return text


def _matches(pattern: str, text: str) -> bool:
    try:
        return re.search(pattern, text) is not None
    except re.error:
        return True  # a pattern Python cannot read: keep the words
