"""The door check refuses tenant schemas outside the providers' subset, at the exact pointer."""

from __future__ import annotations

import pytest

from schemas.extractors.check import check_schema
from tests.unit.extractors.check_samples import (
    STR,
    limited,
    nested,
    node,
    ref,
    refusal,
    root,
    with_defs,
)

NODE_LOOP = with_defs({"Node": node(ref("Node"))}, n=ref("Node"))
PING_PONG = with_defs(
    {"A": {**root(b=ref("B")), "required": ["b"]}, "B": node(ref("A"))}, a=ref("A")
)

# Nine definitions, each referencing the next twenty times: 180 properties, 20^9 leaves.
FAN_OUT = with_defs(
    {
        f"d{i}": root(**{f"p{k}": ref(f"d{i + 1}") if i < 8 else STR for k in range(20)})
        for i in range(9)
    },
    a=ref("d0"),
)

REFUSED: list[tuple[str, object, str, str]] = [
    ("non-object root", {"type": "array", "items": STR}, "/type", 'must have type "object"'),
    ("root without type", {"properties": {"a": STR}}, "", 'must have type "object"'),
    ("boolean root", True, "", "must be a JSON object"),
    ("missing properties", {"type": "object"}, "", "needs properties"),
    ("empty properties", root(), "/properties", "at least one property"),
    ("root anyOf", {**root(a=STR), "anyOf": [STR]}, "/anyOf", "not an anyOf"),
    ("unknown keyword", root(a={**STR, "x-foo": 1}), "/properties/a/x-foo", "'x-foo' is not supp"),
    ("oneOf", root(a={"oneOf": [STR, {"type": "null"}]}), "/properties/a/oneOf", "use anyOf"),
    ("allOf", root(a={"allOf": [STR]}), "/properties/a/allOf", "'allOf' is not supported"),
    ("not", root(a={**STR, "not": {"const": "x"}}), "/properties/a/not", "'not' is not supported"),
    ("if", root(a={"if": STR, "then": STR}), "/properties/a/if", "conditional schemas"),
    (
        "prefixItems",
        root(a={"type": "array", "prefixItems": [STR]}),
        "/properties/a/prefixItems",
        "use items with a single schema",
    ),
    (
        "patternProperties",
        root(a={"type": "object", "patternProperties": {"^x": STR}}),
        "/properties/a/patternProperties",
        "'patternProperties' is not supported",
    ),
    (
        "additionalProperties schema",
        root(a={"type": "object", "properties": {"b": STR}, "additionalProperties": STR}),
        "/properties/a/additionalProperties",
        "only additionalProperties: false",
    ),
    (
        "uniqueItems",
        root(a={**nested(1), "uniqueItems": True}),
        "/properties/a/uniqueItems",
        "Open",
    ),
    (
        "format ipv4",
        root(a={**STR, "format": "ipv4"}),
        "/properties/a/format",
        "'ipv4' is not supp",
    ),
    ("boolean subschema", root(a={"type": "array", "items": True}), "/properties/a/items", "bool"),
    (
        "pattern on a number",
        root(a={"type": "number", "pattern": "x"}),
        "/properties/a/pattern",
        "applies to string",
    ),
    (
        "nested $defs",
        root(a={**STR, "$defs": {}}),
        "/properties/a/$defs",
        "only accepted at the root",
    ),
    ("unbounded recursion", NODE_LOOP, "/$defs/Node/properties/child/$ref", "without a bound"),
    ("unbounded cycle of two", PING_PONG, "/$defs/B/properties/child/$ref", "without a bound"),
    ("unresolvable $ref", root(a=ref("Missing")), "/properties/a/$ref", "does not resolve"),
    ("remote $ref", root(a={"$ref": "https://x.test/s.json"}), "/properties/a/$ref", "remote $ref"),
    ("$ref into a def", root(a={"$ref": "#/properties/b"}), "/properties/a/$ref", "#/$defs/<name>"),
    (
        "backreference",
        root(a={**STR, "pattern": r"(a)\1"}),
        "/properties/a/pattern",
        "backtracking",
    ),
    ("lookahead", root(a={**STR, "pattern": "(?=a)a"}), "/properties/a/pattern", "a lookahead"),
    ("lookbehind", root(a={**STR, "pattern": "(?<!a)b"}), "/properties/a/pattern", "a lookbehind"),
    (
        "invalid pattern",
        root(a={**STR, "pattern": "a("}),
        "/properties/a/pattern",
        "not a valid reg",
    ),
    ("required missing", {**root(a=STR), "required": ["a", "b"]}, "/required/1", "'b', which is"),
    (
        "minLength over maxLength",
        root(a={**STR, "minLength": 5, "maxLength": 3}),
        "/properties/a/minLength",
        "minLength 5 is greater than maxLength 3",
    ),
    (
        "minimum over maximum",
        root(a={"type": "number", "exclusiveMinimum": 3, "maximum": 3}),
        "/properties/a/exclusiveMinimum",
        "no number satisfies",
    ),
    ("float length", root(a={**STR, "maxLength": 2.0}), "/properties/a/maxLength", "whole number"),
    ("empty enum", root(a={"enum": []}), "/properties/a/enum", "at least one value"),
    ("object in enum", root(a={"enum": ["x", {}]}), "/properties/a/enum/1", "strings, numbers"),
    ("object const", root(a={"const": [1]}), "/properties/a/const", "const must be a string"),
    (
        "unknown x-docqueue key",
        root(a={**STR, "x-docqueue-color": "red"}),
        "/properties/a/x-docqueue-color",
        "unknown docqueue annotation",
    ),
    (
        "merge on a non-string",
        root(a={"type": "integer", "x-docqueue-merge": "summary"}),
        "/properties/a/x-docqueue-merge",
        'needs a property of type "string"',
    ),
    (
        "merge below the top level",
        root(a={"type": "object", "properties": {"b": {**STR, "x-docqueue-merge": "summary"}}}),
        "/properties/a/properties/b/x-docqueue-merge",
        "only accepted on a top-level property",
    ),
    (
        "merge hint unknown",
        root(a={**STR, "x-docqueue-merge": "concat"}),
        "/properties/a/x-docqueue-merge",
        'must be "summary"',
    ),
    ("invalid draft", root(a={"type": 5}), "/properties/a/type", "not a valid Draft 2020-12"),
    ("negative length", root(a={**STR, "minLength": -1}), "/properties/a/minLength", "Draft 2020"),
    (
        "wrong $schema",
        {**root(a=STR), "$schema": "http://json-schema.org/draft-07/schema#"},
        "/$schema",
        "must be 'https://json-schema.org/draft/2020-12/schema'",
    ),
    ("set value", root(a={**STR, "default": {1}}), "/properties/a/default", "set is not a JSON"),
    ("nan", root(a={"type": "number", "maximum": float("nan")}), "/properties/a/maximum", "nan"),
    ("10,000 deep", root(a=nested(10_000)), "/properties/a" + "/items" * 62, "max_json_nesting"),
    (
        "recursion that never descends",
        with_defs({"A": {"anyOf": [{"type": "null"}, ref("A")]}}, a=ref("A")),
        "/$defs/A/anyOf/1/$ref",
        "never descends",
    ),
    ("exponential expansion", FAN_OUT, "", "max_expanded_fields"),
]


@pytest.mark.parametrize(
    ("schema", "pointer", "phrase"),
    [pytest.param(schema, pointer, phrase, id=name) for name, schema, pointer, phrase in REFUSED],
)
def test_a_schema_outside_the_subset_is_refused_at_its_pointer(
    schema: object, pointer: str, phrase: str
) -> None:
    error = refusal(schema)
    assert (error.pointer, phrase in error.reason) == (pointer, True), error.reason


OVER_LIMIT: list[tuple[str, dict[str, int], object, str]] = [
    ("bytes", {"max_schema_bytes": 60}, root(a={**STR, "oneOf": []}, b=STR, c=STR), ""),
    ("properties", {"max_properties": 2}, root(a=STR, b=STR, c=STR), "/properties/c"),
    ("depth", {"max_depth": 2}, root(a=root(b=root(c=STR))), "/properties/a/properties/b"),
    (
        "enum",
        {"max_enum_values": 3},
        root(a={"enum": [1, 2]}, b={"enum": [3, 4]}),
        "/properties/b/enum/1",
    ),
    ("string_chars", {"max_string_chars": 5}, root(abc={"const": "defg"}), "/properties/abc/const"),
    (
        "pattern",
        {"max_pattern_chars": 3},
        root(a={**STR, "pattern": "abcd"}),
        "/properties/a/pattern",
    ),
]


@pytest.mark.parametrize(
    ("fields", "schema", "pointer"),
    [
        pytest.param(fields, schema, pointer, id=name)
        for name, fields, schema, pointer in OVER_LIMIT
    ],
)
def test_a_schema_over_a_limit_is_refused_naming_the_toml_key(
    fields: dict[str, int], schema: object, pointer: str
) -> None:
    error = refusal(schema, limited(**fields))
    (field,) = fields
    assert error.pointer == pointer
    assert f"[extractors.limits] {field}" in error.reason


def test_one_enum_of_many_long_values_is_refused_by_the_large_enum_budget() -> None:
    limits = limited(large_enum_values=2, max_enum_chars_large=5)
    schema = root(a={"enum": ["ab", "cd", "ef"]})
    assert refusal(schema, limits).pointer == "/properties/a/enum"
    check_schema(root(a={"enum": ["ab", "cd"]}), limits=limits)  # not more than 2 values


def test_objects_nested_exactly_to_max_depth_are_accepted() -> None:
    check_schema(root(a=root(b=STR)), limits=limited(max_depth=2))


def test_depth_counts_objects_reached_through_refs_and_arrays() -> None:
    schema = with_defs({"Inner": root(c=STR)}, a={"type": "array", "items": ref("Inner")})
    assert refusal(schema, limited(max_depth=1)).pointer == "/$defs/Inner"


def test_the_size_rule_comes_before_every_other() -> None:
    error = refusal(
        root(a={"oneOf": [STR]}, b={**STR, "pattern": "(?=x)"}), limited(max_schema_bytes=10)
    )
    assert "[extractors.limits] max_schema_bytes" in error.reason


def test_a_recursion_through_a_non_empty_list_is_unbounded() -> None:
    schema = with_defs({"Node": node({"type": "array", "items": ref("Node"), "minItems": 1})})
    schema["properties"]["n"] = ref("Node")
    assert refusal(schema).pointer == "/$defs/Node/properties/child/items/$ref"
