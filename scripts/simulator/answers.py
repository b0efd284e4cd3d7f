"""Schema-valid answers built from a JSON Schema, with string values drawn from the document."""

from __future__ import annotations

import datetime as dt
import json
import random
import re
import zlib
from collections.abc import Callable
from typing import Any

from scripts.simulator.formats import answer_checker, has_type, number, scalar_fits, string_value
from scripts.simulator.rules import apply_object_rules

# Only the head of a document feeds the word pool: big documents must not cost per request.
WORD_SCAN_CHARS = 20_000
MAX_WORDS = 2_000
# Past this depth recursive schemas take the shortest way out: required fields only, minimal
# lists, null or the anyOf branch that ends soonest. HARD_DEPTH only stops unbounded ones.
SOFT_DEPTH = 8
HARD_DEPTH = 64
UNIQUE_TRIES = 10
FALLBACK_WORDS = ("alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel")
INVALID_MARKER = "__sim_invalid__"

_WORD_RE = re.compile(r"[A-Za-z][A-Za-z0-9-]{2,23}")
_DIRECTIVE_RE = re.compile(r"\[\[sim:[^\]]*\]\]")
_SCHEMA_HINT_RE = re.compile(r"json[_ ]?schema", re.IGNORECASE)
_BASE_DATE = dt.date(2023, 1, 1)


def document_words(text: str) -> list[str]:
    """Distinct words from the document's head in order of appearance, directives removed."""
    head = _DIRECTIVE_RE.sub(" ", text[:WORD_SCAN_CHARS])
    words = list(dict.fromkeys(w.rstrip("-") for w in _WORD_RE.findall(head)))
    return words[:MAX_WORDS] or list(FALLBACK_WORDS)


def answer_rng(seed: int, document: str) -> random.Random:
    """A generator seeded by the document, so one document always gets the same answer."""
    head = document[:WORD_SCAN_CHARS].encode("utf-8", "replace")
    return random.Random(f"{seed}:{zlib.crc32(head)}:{len(document)}")


def build_answer(schema: dict[str, Any], document: str, seed: int = 0) -> Any:
    """Build a JSON value valid for `schema`, strings drawn from the document's words."""
    gen = _Generator(schema, document_words(document), answer_rng(seed, document))
    return gen.value(schema, "", 0, _DateCursor(gen.rng))


def schema_resolver(root: dict[str, Any]) -> Callable[[Any], dict[str, Any]]:
    """A function resolving $ref (local pointers) and allOf in (sub)schemas of `root`."""
    return _Generator(root, list(FALLBACK_WORDS), random.Random(0)).resolve


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

    def next(self) -> str:
        """The next date, ISO formatted."""
        value = self.current
        self.current = value + dt.timedelta(days=self.rng.randint(1, 60))
        return value.isoformat()


class _Generator:
    """Walks one schema; holds the root (for $ref), the word pool and the generator."""

    def __init__(self, root: dict[str, Any], words: list[str], rng: random.Random) -> None:
        self.root = root
        self.words = words
        self.rng = rng
        self._heights: dict[tuple[int, frozenset[str]], float] = {}
        self._checker: Any = None
        self._made: dict[int, tuple[dict[str, Any], dict[str, Any]]] = {}  # id -> (obj, schema)

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

    def height(self, schema: Any, visiting: frozenset[str] = frozenset()) -> float:
        """How deep the shortest value of `schema` nests (infinite if only recursion ends it)."""
        key = (id(schema), visiting)
        if key not in self._heights:
            self._heights[key] = self._height(schema, visiting)
        return self._heights[key]

    def _height(self, schema: Any, visiting: frozenset[str]) -> float:
        ref = schema.get("$ref") if isinstance(schema, dict) else None
        if isinstance(ref, str):
            if ref in visiting:
                return float("inf")
            visiting = visiting | {ref}
        s = self.resolve(schema)
        kind = s.get("type")
        if "const" in s or "enum" in s or (isinstance(kind, list) and "null" in kind):
            return 0
        branches = s.get("anyOf") or s.get("oneOf")
        if branches:
            return min(self.height(b, visiting) for b in branches)
        if kind == "array" or (kind is None and "items" in s):
            if int(s.get("minItems", 0)) == 0:
                return 0
            subs = [*(s.get("prefixItems") or []), s.get("items")]
            return 1 + max(self.height(sub, visiting) for sub in subs)
        if kind == "object" or (kind is None and "properties" in s):
            props = s.get("properties") or {}
            needed = [props.get(name, {}) for name in s.get("required") or []]
            return 1 + max((self.height(sub, visiting) for sub in needed), default=0)
        return 0

    def fits(self, target: dict[str, Any], key: str, value: Any) -> bool:
        """Whether the schema `target` was made for lets its field `key` hold `value`."""
        made = self._made.get(id(target))
        if made is None or made[0] is not target:
            return True  # not an object this walk made: nothing known to honour
        sub = (made[1].get("properties") or {}).get(key, made[1].get("additionalProperties"))
        if sub is None or sub is True:
            return True
        quick = scalar_fits(self.resolve(sub), value)  # the common case, without a validator
        if quick is not None:
            return quick
        if self._checker is None:
            self._checker = answer_checker(self.root)
        try:
            return bool(self._checker.evolve(schema=sub).is_valid(value))
        except Exception:  # noqa: BLE001 - a schema jsonschema cannot read: the rule decides
            return True

    def value(self, schema: Any, name: str, depth: int, dates: _DateCursor) -> Any:
        """A value for one (sub)schema; `name` is the property it fills, for light hints."""
        s = self.resolve(schema)
        deep = depth > SOFT_DEPTH
        if depth > HARD_DEPTH:
            return None
        if "const" in s:
            return s["const"]
        if "enum" in s:
            fitting = [c for c in s["enum"] if has_type(c, s.get("type"))] or list(s["enum"])
            return self.rng.choice([c for c in fitting if c is not None] or fitting)
        if s.get("anyOf") or s.get("oneOf"):
            return self.value(self._pick_branch(s, deep), name, depth, dates)
        kind = s.get("type")
        if isinstance(kind, list):
            if deep and "null" in kind:
                return None
            kind = next((k for k in kind if k != "null"), "null")
        if kind is None:
            kind = "object" if "properties" in s else "array" if "items" in s else "string"
        if kind == "object":
            return self.obj(s, depth)
        if kind == "array":
            return self.array(s, name, depth, dates)
        if kind in ("integer", "number"):
            small = kind == "integer" or name in ("quantity", "qty")
            return number(s, self.rng, integer=kind == "integer", small=small)
        if kind == "boolean":
            return self.rng.random() < 0.5
        if kind == "null":
            return None
        return self.string(s, name, dates)

    def _pick_branch(self, s: dict[str, Any], deep: bool) -> dict[str, Any]:
        """One anyOf branch: a real value over null, the one that ends soonest when deep."""
        branches = s.get("anyOf") or s.get("oneOf") or []
        if deep:
            raw = min(branches, key=self.height)
        else:
            # The first real branch: generators put the intended one first (Decimal: number).
            raw = next((b for b in branches if self.resolve(b).get("type") != "null"), branches[0])
        # Keywords beside anyOf (hints, lengths, the type) hold for the branch too.
        siblings = {k: v for k, v in s.items() if k not in ("anyOf", "oneOf")}
        return {**siblings, **self.resolve(raw)}

    def obj(self, s: dict[str, Any], depth: int) -> dict[str, Any]:
        """An object with every property (only required ones past SOFT_DEPTH)."""
        props: dict[str, Any] = s.get("properties") or {}
        required = list(s.get("required") or [])
        extra = s.get("additionalProperties")
        dates = _DateCursor(self.rng)  # one cursor per object: its dates run in property order
        out: dict[str, Any] = {}
        for key, sub in props.items():
            if depth > SOFT_DEPTH and key not in required:
                continue
            out[key] = self.value(sub, key, depth + 1, dates)
        for key in required:  # required but not described: whatever extra properties may be
            if key not in out and extra is not False:
                out[key] = self.value(
                    extra if isinstance(extra, dict) else {}, key, depth + 1, dates
                )
        if not props and isinstance(extra, dict) and depth <= SOFT_DEPTH:
            out.setdefault(self.word().lower(), self.value(extra, "", depth + 1, dates))
        self._made[id(out)] = (out, s)
        apply_object_rules(out, self.fits)
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
        unique = s.get("uniqueItems") is True
        out: list[Any] = []
        for i in range(count):
            sub = prefix[i] if i < len(prefix) else items
            item = self.value(sub, name, depth + 1, dates)
            for _ in range(UNIQUE_TRIES if unique else 0):
                if item not in out:
                    break
                item = self.value(sub, name, depth + 1, dates)
            if not unique or item not in out or len(out) < low:
                out.append(item)
        return out

    def string(self, s: dict[str, Any], name: str, dates: _DateCursor) -> str:
        """A string honouring format, pattern and lengths; free ones are the document's words."""
        return string_value(s, name, self.words, self.rng, dates.next)

    def word(self) -> str:
        """One word from the document's pool."""
        return self.rng.choice(self.words)
