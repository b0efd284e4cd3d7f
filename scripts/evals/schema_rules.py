"""Which rule scores a field, read from the extractor's JSON Schema.

The schemas docqueue accepts use `$ref` to `#/$defs/...`, `anyOf` (mostly "this or null")
and `type` lists; this walks them down to the one schema a value is scored under. A field
the schema does not describe (or no schema at all) is scored by the kind of its label.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

EXACT, STRING, NUMBER, DATE, SET_F1 = "exact", "string", "number", "date", "set_f1"
RULES = (EXACT, STRING, NUMBER, DATE, SET_F1)
DATE_FORMATS = frozenset({"date", "date-time"})
MAX_REFS = 32  # a $ref chain longer than this is a loop: the field is scored by its label


def unescape(segment: str) -> str:
    """The key an RFC 6901 pointer segment names."""
    return segment.replace("~1", "/").replace("~0", "~")


def escape(key: str) -> str:
    """An object key as one RFC 6901 pointer segment."""
    return key.replace("~", "~0").replace("/", "~1")


def pointer(parts: tuple[str, ...]) -> str:
    """The JSON Pointer of a path of object keys ("" for the root)."""
    return "".join(f"/{escape(p)}" for p in parts)


def _non_null(types: Any) -> list[str]:
    if isinstance(types, str):
        types = [types]
    if not isinstance(types, list):
        return []
    return [str(t) for t in types if t != "null"]


class SchemaView:
    """An extractor's JSON Schema, read one field at a time with references resolved."""

    def __init__(self, root: Mapping[str, Any] | None) -> None:
        self.root: dict[str, Any] = dict(root or {})

    def _lookup(self, ref: str) -> dict[str, Any]:
        if not ref.startswith("#"):
            return {}  # only local references are accepted by the door check
        node: Any = self.root
        for part in ref[1:].strip("/").split("/"):
            if part:
                node = node.get(unescape(part), {}) if isinstance(node, dict) else {}
        return node if isinstance(node, dict) else {}

    def resolve(self, node: Any) -> dict[str, Any]:
        """`node` with `$ref` followed, the non-null `anyOf` branch taken, `null` types dropped."""
        if not isinstance(node, dict):
            return {}
        current: dict[str, Any] = dict(node)
        for _ in range(MAX_REFS):
            if "$ref" in current:
                target = self._lookup(str(current["$ref"]))
                siblings = {k: v for k, v in current.items() if k != "$ref"}
                current = {**target, **siblings}
            elif isinstance(current.get("anyOf"), list):
                branches = [self.resolve(b) for b in current["anyOf"]]
                # "X or null" is the usual anyOf; of several real branches the first is
                # taken (a scorer cannot know which one the labeller meant).
                real = [b for b in branches if b.get("type") != "null"]
                siblings = {k: v for k, v in current.items() if k != "anyOf"}
                current = {**(real[0] if real else {}), **siblings}
            else:
                break
        else:
            return {}
        types = _non_null(current.get("type"))
        if types:
            current["type"] = types[0]
        elif "type" in current:
            current["type"] = "null"  # only null: no rule of its own, the label decides
        return current

    def field(self, node: Mapping[str, Any], key: str) -> dict[str, Any]:
        """The resolved schema of property `key` of an object schema ({} if undescribed)."""
        props = node.get("properties")
        if isinstance(props, dict) and key in props:
            return self.resolve(props[key])
        extra = node.get("additionalProperties")
        return self.resolve(extra) if isinstance(extra, dict) else {}

    def items(self, node: Mapping[str, Any]) -> dict[str, Any]:
        """The resolved schema of an array schema's items ({} if undescribed)."""
        return self.resolve(node.get("items"))

    def top(self) -> dict[str, Any]:
        """The resolved root schema."""
        return self.resolve(self.root)


def kind(node: Mapping[str, Any]) -> str | None:
    """The JSON type a resolved schema declares (None if it declares none, or only null)."""
    declared = node.get("type")
    return str(declared) if isinstance(declared, str) and declared != "null" else None


def is_date(node: Mapping[str, Any]) -> bool:
    """Whether a string schema is a date or a date-time."""
    return kind(node) == "string" and node.get("format") in DATE_FORMATS


def rule_of(node: Mapping[str, Any], label: Any) -> str:
    """The rule for a field: from its schema, else (undescribed) from its label's kind."""
    if "enum" in node or "const" in node:
        return EXACT
    declared = kind(node)
    if declared == "array":
        return SET_F1
    if declared in ("integer", "boolean", "object"):
        return EXACT
    if declared == "number":
        return NUMBER
    if declared == "string":
        return DATE if is_date(node) else STRING
    if isinstance(label, list):
        return SET_F1
    if isinstance(label, bool) or label is None or isinstance(label, dict):
        return EXACT
    if isinstance(label, int | float):
        return NUMBER
    return STRING
