"""Result columns from the extractor's JSON Schema: named apart from the fixed columns."""

from __future__ import annotations

from typing import Any

from scripts.ingest.columns import Columns, column_name, from_schema
from scripts.ingest.exports import FIXED

SCHEMA: dict[str, Any] = {
    "$defs": {
        "Party": {
            "type": "object",
            "properties": {
                "name": {"type": "string"},
                "address": {
                    "anyOf": [{"$ref": "#/$defs/Address"}, {"type": "null"}],
                },
            },
        },
        "Address": {"type": "object", "properties": {"city": {"type": "string"}}},
        "Node": {
            "type": "object",
            "properties": {"child": {"anyOf": [{"$ref": "#/$defs/Node"}, {"type": "null"}]}},
        },
    },
    "type": "object",
    "properties": {
        "invoice_number": {"type": "string"},
        "vendor": {"$ref": "#/$defs/Party"},
        "lines": {"type": "array", "items": {"type": "object", "properties": {"x": {}}}},
        "total": {"type": "number"},
        "paid": {"type": "boolean"},
        "extra": {"type": "object", "additionalProperties": True},
        "tree": {"$ref": "#/$defs/Node"},
        "either": {"anyOf": [{"type": "string"}, {"type": "number"}]},
    },
}
RESULT = {
    "invoice_number": "INV-1",
    "vendor": {"name": "Acme", "address": None, "note": "not in the schema"},
    "lines": [{"x": 1}, {"x": 2}],
    "total": 12.5,
    "paid": True,
    "extra": {"a": 1},
    "tree": {"child": {"child": None}},
    "either": 3,
    "surprise": {"deep": "value"},
}


def columns() -> Columns:
    """The columns of SCHEMA, after seeing RESULT."""
    found = from_schema(SCHEMA)
    found.see(RESULT)
    return found


def test_schema_columns_dot_nested_objects_and_keep_arrays_whole() -> None:
    found = columns()
    assert found.names == [
        "result.invoice_number", "result.vendor.name", "result.vendor.address.city",
        "result.lines", "result.total", "result.paid", "result.extra", "result.tree.child",
        "result.either",
        "result.vendor.note", "result.surprise.deep",  # outside the schema, in order seen
    ]  # fmt: skip
    assert found.cells(RESULT) == [
        "INV-1", "Acme", None, '[{"x": 1}, {"x": 2}]', 12.5, "true", '{"a": 1}',
        '{"child": null}', 3, "not in the schema", "value",
    ]  # fmt: skip


def test_no_schema_means_columns_from_the_results_alone() -> None:
    found = from_schema(None)
    found.see({"b": 1, "a": {"c": [1]}})
    found.see({"a": {"d": 2}})
    assert found.names == ["result.b", "result.a.c", "result.a.d"]


def test_fields_named_like_fixed_columns_get_their_own_columns() -> None:
    fields = {name: {"type": "string"} for name in FIXED}
    found = from_schema({"type": "object", "properties": fields})
    header = [*FIXED, *found.names]
    assert len(set(header)) == len(header) == 2 * len(FIXED)
    assert found.cells({"status": "paid", "key": "K-9"})[1:2] == ["paid"]
    assert column_name(("status",)) == "result.status"


def test_a_key_with_a_dot_and_a_nested_key_make_two_columns() -> None:
    found = from_schema(None)
    found.see({"a.b": 1, "a": {"b": 2}, 'q"[x]': 3})
    assert found.names == ['result["a.b"]', "result.a.b", 'result["q\\"[x]"]']
    assert found.cells({"a.b": 1, "a": {"b": 2}}) == [1, 2, None]


def test_an_empty_object_for_a_declared_object_adds_no_column() -> None:
    found = from_schema(SCHEMA)
    before = list(found.names)
    empty = {**RESULT, "vendor": {}, "surprise": None}
    found.see(empty)
    assert found.names == [*before, "result.surprise"]  # an undeclared null is a value
    assert found.cells(empty)[1:3] == [None, None]


def test_all_of_wrappers_are_expanded_like_a_plain_ref() -> None:
    schema = {
        "$defs": {
            "Money": {
                "type": "object",
                "properties": {"amount": {"type": "number"}, "currency": {"type": "string"}},
            },
            "Base": {"type": "object", "properties": {"id": {"type": "string"}}},
        },
        "type": "object",
        "allOf": [{"$ref": "#/$defs/Base"}],
        "properties": {
            "total": {"allOf": [{"$ref": "#/$defs/Money"}], "description": "the total"},
            "due": {"anyOf": [{"allOf": [{"$ref": "#/$defs/Money"}]}, {"type": "null"}]},
        },
    }
    assert from_schema(schema).names == [
        "result.id", "result.total.amount", "result.total.currency", "result.due.amount",
        "result.due.currency",
    ]  # fmt: skip
