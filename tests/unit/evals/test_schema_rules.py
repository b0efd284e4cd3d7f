"""The rule each field is scored by, read from its JSON Schema (or, undescribed, its label)."""

from __future__ import annotations

from typing import Any

import pytest

from scripts.evals.schema_rules import SchemaView, kind, pointer, rule_of

ROOT: dict[str, Any] = {
    "type": "object",
    "$defs": {
        "party": {"type": "object", "properties": {"name": {"type": "string"}}},
        "loop": {"$ref": "#/$defs/loop"},
        "a/b": {"type": "integer"},
    },
    "properties": {
        "vendor": {"$ref": "#/$defs/party", "description": "the seller"},
        "total": {"type": ["number", "null"]},
        "due": {"anyOf": [{"type": "null"}, {"type": "string", "format": "date-time"}]},
        "kind": {"type": "string", "enum": ["a", "b"]},
        "fixed": {"const": 3},
        "count": {"$ref": "#/$defs/a~1b"},
        "paid": {"type": "boolean"},
        "tags": {"type": "array", "items": {"type": "string"}},
        "note": {"type": "string"},
        "weird": {"$ref": "#/$defs/loop"},
        "nothing": {"type": "null"},
    },
    "additionalProperties": False,
}
VIEW = SchemaView(ROOT)


def field(name: str) -> dict[str, Any]:
    """The resolved schema of one top-level field of ROOT."""
    return VIEW.field(VIEW.top(), name)


@pytest.mark.parametrize(
    ("name", "rule"),
    [
        ("vendor", "exact"),
        ("total", "number"),  # a type list with null
        ("due", "date"),  # the non-null branch of anyOf, whichever comes first
        ("kind", "exact"),
        ("fixed", "exact"),
        ("count", "exact"),  # integer, through an escaped $ref
        ("paid", "exact"),
        ("tags", "set_f1"),
        ("note", "string"),
    ],
)
def test_each_schema_type_picks_its_rule(name: str, rule: str) -> None:
    assert rule_of(field(name), "x") == rule


def test_a_reference_keeps_the_keywords_written_beside_it() -> None:
    vendor = field("vendor")
    assert kind(vendor) == "object"
    assert vendor["description"] == "the seller"
    assert kind(VIEW.field(vendor, "name")) == "string"


@pytest.mark.parametrize(
    ("label", "rule"),
    [(["a"], "set_f1"), (True, "exact"), (3, "number"), (2.5, "number"), ("x", "string"),
     (None, "exact"), ({"a": 1}, "exact")],
)  # fmt: skip
def test_a_field_the_schema_does_not_describe_is_scored_by_its_labels_kind(
    label: Any, rule: str
) -> None:
    assert rule_of(field("undescribed"), label) == rule
    assert rule_of(field("weird"), label) == rule  # a $ref loop describes nothing
    assert rule_of(field("nothing"), label) == rule  # nor does a null-only type
    assert rule_of(SchemaView(None).field({}, "x"), label) == rule  # nor no schema at all


def test_pointers_escape_tilde_and_slash_in_keys() -> None:
    assert pointer(("vendor", "name")) == "/vendor/name"
    assert pointer(("a/b", "c~d")) == "/a~1b/c~0d"
    assert pointer(()) == ""
