"""One pass over a tenant schema: the keyword subset, annotations, patterns and the counts."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from schemas.errors import SchemaInvalid
from schemas.extractors.canonical import ANNOTATION_PREFIX
from schemas.extractors.check_rules import (
    ALLOWED,
    APPLIES_TO,
    FORMATS,
    check_annotation,
    check_bounds,
    check_pattern,
    child_pointer,
    is_scalar,
    refused_keyword,
    schema_types,
)
from schemas.extractors.limits import ExtractorLimits

__all__ = ["Walk", "walk_schema"]

DEFS_PREFIX = "#/$defs/"
_SHAPING = frozenset({"type", "$ref", "anyOf", "enum", "const"})  # one says what a value is


@dataclass
class Walk:
    """What the pass learnt: a terminability graph for $ref recursion and limit violations.

    Every schema node is an AND gate over what an instance of it must contain (its $refs,
    required properties, non-empty arrays, one anyOf gate); an anyOf is an OR gate.
    """

    is_or: list[bool] = field(default_factory=list)
    children: list[list[int]] = field(default_factory=list)
    refs: list[list[tuple[str, str]]] = field(default_factory=list)  # (def name, $ref pointer)
    def_gates: dict[str, int] = field(default_factory=dict)
    violations: dict[str, SchemaInvalid] = field(default_factory=dict)  # first one per limit
    properties: int = 0
    enum_values: int = 0
    string_chars: int = 0

    def gate(self, *, parent: int | None, is_or: bool = False) -> int:
        """A new gate, feeding `parent` when an instance of the parent must contain it."""
        self.is_or.append(is_or)
        self.children.append([])
        self.refs.append([])
        index = len(self.is_or) - 1
        if parent is not None:
            self.children[parent].append(index)
        return index


@dataclass(frozen=True)
class _Node:
    schema: object
    pointer: str
    parent: int | None  # the gate this node is forced into, if any
    place: str  # "root", "top" (a top-level property), "def" or "inner"
    def_name: str | None = None


class _Walker:
    def __init__(self, root: dict[str, Any], limits: ExtractorLimits) -> None:
        self.root = root
        defs = root.get("$defs")
        self.defs: dict[str, Any] = defs if isinstance(defs, dict) else {}
        self.limits = limits
        self.walk = Walk()
        self.current = 0  # the gate of the node being visited

    def run(self) -> Walk:
        stack = [_Node(self.root, "", None, "root")]
        while stack:
            stack.extend(reversed(self.visit(stack.pop())))  # reversed: document order
        return self.walk

    def visit(self, node: _Node) -> list[_Node]:
        schema, pointer = node.schema, node.pointer
        if not isinstance(schema, dict):
            raise SchemaInvalid(
                pointer, "a schema must be a JSON object (boolean schemas are not accepted)"
            )
        gate = self.current = self.walk.gate(parent=node.parent)
        if node.def_name is not None:
            self.walk.def_gates[node.def_name] = gate
        if node.place == "root":
            _check_root(schema)
        types = schema_types(schema)
        for key, value in schema.items():
            at = child_pointer(pointer, key)
            if key.startswith(ANNOTATION_PREFIX):
                check_annotation(key, value, at, node.place, types)
                continue
            if key not in ALLOWED:
                raise refused_keyword(key, at)
            applies = APPLIES_TO.get(key)
            if types is not None and applies is not None and not types & applies:
                raise SchemaInvalid(
                    at,
                    f"{key} applies to {' or '.join(sorted(applies))} schemas, "
                    f"but this schema's type is {' or '.join(sorted(types))}",
                )
            check = self.checks.get(key)
            if check is not None:
                check(self, schema, value, at, node)
        if not schema.keys() & _SHAPING:
            raise SchemaInvalid(
                pointer,
                "a schema needs a type (or $ref, anyOf, enum or const): OpenAI strict mode "
                "refuses free-form values",
            )
        check_bounds(schema, pointer)
        return self.children_of(schema, pointer, gate, node.place, types)

    def children_of(
        self, schema: dict[str, Any], pointer: str, gate: int, place: str, types: set[str] | None
    ) -> list[_Node]:
        found: list[_Node] = []
        # An object may leave out a property that is not required, an array may be empty,
        # and a declared type such as "null" is a way out of both: none of those is forced.
        required = set(schema.get("required", ()))
        object_forced = types is None or types == {"object"}
        array_forced = (types is None or types == {"array"}) and schema.get("minItems", 0) > 0
        inner = "top" if place == "root" else "inner"
        for key, value in schema.items():
            at = child_pointer(pointer, key)
            if key == "properties":
                for name, child in value.items():
                    forced = gate if object_forced and name in required else None
                    found.append(_Node(child, child_pointer(at, name), forced, inner))
            elif key == "$defs":
                for name, child in value.items():
                    found.append(_Node(child, child_pointer(at, name), None, "def", name))
            elif key == "items":
                found.append(_Node(value, at, gate if array_forced else None, "inner"))
            elif key == "anyOf":
                union = self.walk.gate(parent=gate, is_or=True)
                for index, branch in enumerate(value):
                    found.append(_Node(branch, child_pointer(at, str(index)), union, "inner"))
        return found

    # -- one method per keyword that needs more than the metaschema already checked --

    def _properties(self, schema: dict[str, Any], value: Any, at: str, node: _Node) -> None:
        if node.place == "root" and not value:
            raise SchemaInvalid(at, "the root schema needs at least one property")
        for name in value:
            self.walk.properties += 1
            if self.walk.properties == self.limits.max_properties + 1:
                self.violate(
                    "max_properties", child_pointer(at, name), "object properties in total"
                )
            self.count_chars(len(name), child_pointer(at, name))

    def _required(self, schema: dict[str, Any], value: Any, at: str, node: _Node) -> None:
        properties = schema.get("properties", {})
        for index, name in enumerate(value):
            if name not in properties:
                raise SchemaInvalid(
                    child_pointer(at, str(index)),
                    f"required names {name!r}, which is not one of this schema's properties",
                )

    def _additional(self, schema: dict[str, Any], value: Any, at: str, node: _Node) -> None:
        if value is not False:
            raise SchemaInvalid(
                at,
                "only additionalProperties: false is accepted; name every property under "
                "properties (maps with free-form keys are not supported by strict providers)",
            )

    def _defs(self, schema: dict[str, Any], value: Any, at: str, node: _Node) -> None:
        if node.place != "root":
            raise SchemaInvalid(at, "$defs is only accepted at the root of the schema")
        for name in value:
            self.count_chars(len(name), child_pointer(at, name))

    def _schema(self, schema: dict[str, Any], value: Any, at: str, node: _Node) -> None:
        if node.place != "root":
            raise SchemaInvalid(at, "$schema is only accepted at the root of the schema")

    def _ref(self, schema: dict[str, Any], value: Any, at: str, node: _Node) -> None:
        if not value.startswith("#"):
            raise SchemaInvalid(
                at, f"remote $ref {value!r} is not accepted; use a local #/$defs/<name> reference"
            )
        token = value[len(DEFS_PREFIX) :]
        if not value.startswith(DEFS_PREFIX) or not token or "/" in token:
            raise SchemaInvalid(at, f"$ref {value!r} must point at #/$defs/<name>")
        name = token.replace("~1", "/").replace("~0", "~")
        if name not in self.defs:
            raise SchemaInvalid(at, f"$ref {value!r} does not resolve: no $defs entry {name!r}")
        self.walk.refs[self.current].append((name, at))

    def _any_of(self, schema: dict[str, Any], value: Any, at: str, node: _Node) -> None:
        if node.place == "root":
            raise SchemaInvalid(at, "the root schema must be a plain object, not an anyOf")

    def _enum(self, schema: dict[str, Any], value: Any, at: str, node: _Node) -> None:
        if not value:
            raise SchemaInvalid(at, "enum must list at least one value")
        chars = 0
        for index, item in enumerate(value):
            item_at = child_pointer(at, str(index))
            if not is_scalar(item):
                raise SchemaInvalid(
                    item_at, "enum values must be strings, numbers, booleans or null"
                )
            self.walk.enum_values += 1
            if self.walk.enum_values == self.limits.max_enum_values + 1:
                self.violate("max_enum_values", item_at, "enum values in total")
            if isinstance(item, str):
                chars += len(item)
                self.count_chars(len(item), item_at)
        limits = self.limits
        if len(value) > limits.large_enum_values and chars > limits.max_enum_chars_large:
            self.violate(
                "max_enum_chars_large",
                at,
                f"characters in one enum of more than {limits.large_enum_values} values",
            )

    def _const(self, schema: dict[str, Any], value: Any, at: str, node: _Node) -> None:
        if not is_scalar(value):
            raise SchemaInvalid(at, "const must be a string, number, boolean or null")
        if isinstance(value, str):
            self.count_chars(len(value), at)

    def _format(self, schema: dict[str, Any], value: Any, at: str, node: _Node) -> None:
        if value not in FORMATS:
            raise SchemaInvalid(
                at, f"format {value!r} is not supported; use one of {', '.join(FORMATS)}"
            )

    def _pattern(self, schema: dict[str, Any], value: Any, at: str, node: _Node) -> None:
        check_pattern(value, at, self.limits)

    checks: ClassVar[dict[str, Callable[[_Walker, dict[str, Any], Any, str, _Node], None]]] = {
        "properties": _properties,
        "required": _required,
        "additionalProperties": _additional,
        "$defs": _defs,
        "$schema": _schema,
        "$ref": _ref,
        "anyOf": _any_of,
        "enum": _enum,
        "const": _const,
        "format": _format,
        "pattern": _pattern,
    }

    def count_chars(self, chars: int, at: str) -> None:
        before = self.walk.string_chars
        self.walk.string_chars += chars
        if before <= self.limits.max_string_chars < self.walk.string_chars:
            self.violate(
                "max_string_chars",
                at,
                "characters of property names, $defs names, enum and const values",
            )

    def violate(self, limit: str, at: str, what: str) -> None:
        if limit not in self.walk.violations:
            value = getattr(self.limits, limit)
            self.walk.violations[limit] = SchemaInvalid(
                at, f"the schema exceeds {value} {what} (the limit {self.limits.key(limit)})"
            )


def _check_root(schema: dict[str, Any]) -> None:
    if "type" not in schema:
        raise SchemaInvalid("", 'the root schema must have type "object"')
    if schema["type"] != "object":
        raise SchemaInvalid(
            "/type", f'the root schema must have type "object", not {schema["type"]!r}'
        )
    if "properties" not in schema:
        raise SchemaInvalid("", "the root schema needs properties, at least one")


def walk_schema(root: dict[str, Any], limits: ExtractorLimits) -> Walk:
    """Check every node of a metaschema-valid schema; raise SchemaInvalid at the first problem."""
    return _Walker(root, limits).run()
