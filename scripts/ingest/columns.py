"""Result columns for CSV and XLSX: one per field of the extractor's JSON Schema.

Every result column is named `result` and the field's path: `result.total`, nested
objects dotted (`result.vendor.name`), a key that a dot would make ambiguous quoted
(`result["a.b"]` is the key "a.b", `result.a.b` is b inside a). The prefix keeps a field
called `status` or `key` apart from the fixed columns. Arrays and free-form objects stay
one column, JSON-encoded. Keys a result has outside the schema come after the schema's
columns, in the order first seen.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

Cell = str | int | float | Decimal | None
FieldPath = tuple[str, ...]
PREFIX = "result"
_PLAIN = re.compile(r'[^.\[\]"]+')  # a key that needs no quotes after a dot


def column_name(path: FieldPath) -> str:
    """`result.a.b` for a→b, `result["a.b"]` for the key "a.b": one name per path."""
    return PREFIX + "".join(
        f".{key}" if _PLAIN.fullmatch(key) else f"[{json.dumps(key, ensure_ascii=False)}]"
        for key in path
    )


class Columns:
    """The result columns of one export: the schema's leaves, then extra keys seen."""

    def __init__(self, leaves: list[FieldPath], objects: set[FieldPath]) -> None:
        self.leaves = list(dict.fromkeys(leaves))
        self.objects = objects  # paths the schema declares as objects
        self._known = set(self.leaves)
        self._leafset = frozenset(self.leaves)
        self.extras: list[FieldPath] = []

    @property
    def names(self) -> list[str]:
        """Every column's name, schema order first."""
        return [column_name(p) for p in (*self.leaves, *self.extras)]

    def see(self, result: Any) -> None:
        """Note the keys of one result that no column holds yet."""
        for path in self.flatten(result):
            if path not in self._known:
                self._known.add(path)
                self.extras.append(path)

    def flatten(self, result: Any) -> dict[FieldPath, Any]:
        """The result as {path: value}; a schema leaf keeps its whole value."""
        flat: dict[FieldPath, Any] = {}
        if isinstance(result, Mapping):
            for key, value in result.items():
                self._into(flat, (str(key),), value)
        return flat

    def _into(self, flat: dict[FieldPath, Any], path: FieldPath, value: Any) -> None:
        if path in self.objects and (value is None or (isinstance(value, Mapping) and not value)):
            return  # an absent or empty object: its leaf columns stay empty
        if path in self._leafset or not isinstance(value, Mapping) or not value:
            flat[path] = value
            return
        for key, inner in value.items():
            self._into(flat, (*path, str(key)), inner)

    def cells(self, result: Any) -> list[Cell]:
        """One row's values, in `names` order."""
        flat = self.flatten(result)
        return [cell(flat.get(path)) for path in (*self.leaves, *self.extras)]


def cell(value: Any) -> Cell:
    """A value as a spreadsheet cell: numbers and text as they are, the rest as JSON."""
    if value is None or isinstance(value, str | Decimal):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return value
    return json.dumps(value, ensure_ascii=False)


def from_schema(schema: Mapping[str, Any] | None) -> Columns:
    """The columns a JSON Schema declares (none for a missing or property-less schema)."""
    leaves: list[FieldPath] = []
    objects: set[FieldPath] = set()
    if not schema:
        return Columns(leaves, objects)
    defs: Mapping[str, Any] = {**schema.get("definitions", {}), **schema.get("$defs", {})}

    def properties(node: Any, resolving: tuple[str, ...]) -> dict[str, tuple[Any, tuple[str, ...]]]:
        """The properties a node declares: its own, its `allOf` parts', `X | None`'s X's."""
        node, resolving, recursive = _deref(node, defs, resolving)
        if recursive:
            return {}
        branches = [b for b in node.get("anyOf", node.get("oneOf", ())) if not _is_null(b)]
        if len(branches) == 1:
            return properties(branches[0], resolving)
        found: dict[str, tuple[Any, tuple[str, ...]]] = {}
        for part in node.get("allOf") or ():  # pydantic wraps a described $ref in one
            found.update(properties(part, resolving))
        own = node.get("properties")
        if isinstance(own, Mapping):
            found.update({str(name): (child, resolving) for name, child in own.items()})
        return found

    def walk(node: Any, prefix: FieldPath, resolving: tuple[str, ...]) -> None:
        children = properties(node, resolving)
        if not children:
            if prefix:
                leaves.append(prefix)
            return
        if prefix:
            objects.add(prefix)
        for name, (child, inner) in children.items():
            walk(child, (*prefix, name), inner)

    walk(schema, (), ())
    return Columns(leaves, objects)


def _deref(
    node: Any, defs: Mapping[str, Any], resolving: tuple[str, ...]
) -> tuple[Mapping[str, Any], tuple[str, ...], bool]:
    """Follow local `$ref`s; a recursive one is a leaf (expanding it would never end)."""
    while isinstance(node, Mapping) and isinstance(node.get("$ref"), str):
        name = str(node["$ref"]).rsplit("/", 1)[-1]
        if name in resolving or name not in defs:
            return node, resolving, True
        node, resolving = defs[name], (*resolving, name)
    return (node if isinstance(node, Mapping) else {}), resolving, False


def _is_null(node: Any) -> bool:
    return isinstance(node, Mapping) and node.get("type") == "null"
