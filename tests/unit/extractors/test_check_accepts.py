"""The door check accepts bounded recursion, a realistic form and every built-in schema."""

from __future__ import annotations

from typing import Any

import pytest
from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError
from pydantic import ValidationError

from schemas.extraction.registry import json_schema, list_schemas
from schemas.extractors.check import check_schema
from schemas.extractors.check_meta import metaschema_error
from schemas.extractors.check_rules import ALLOWED
from schemas.extractors.limits import ExtractorLimits
from tests.unit.extractors.check_samples import CLAIM, DEFAULTS, node, ref, with_defs

BOUNDED = {
    "optional child": node(ref("Node"), required=False),
    "possibly empty list": node({"type": "array", "items": ref("Node")}),
    "null branch": node({"anyOf": [ref("Node"), {"type": "null"}]}),
    "nullable type": {**node(ref("Node")), "type": ["object", "null"]},
}


@pytest.mark.parametrize("definition", BOUNDED.values(), ids=BOUNDED.keys())
def test_a_recursive_ref_with_a_way_out_is_accepted(definition: dict[str, Any]) -> None:
    schema = {**with_defs({"Node": definition}, n=ref("Node")), "required": ["n"]}
    check_schema(schema, limits=DEFAULTS)


def _keys(value: object) -> set[str]:
    if isinstance(value, dict):
        return set(value).union(*(_keys(item) for item in value.values()))
    if isinstance(value, list):
        return set().union(*(_keys(item) for item in value))
    return set()


def test_a_realistic_claims_form_using_every_allowed_keyword_is_accepted() -> None:
    assert _keys(CLAIM) >= ALLOWED  # the form really uses every keyword
    check_schema(CLAIM, limits=DEFAULTS)


@pytest.mark.parametrize("spec", list_schemas(), ids=lambda spec: spec.name)
def test_every_built_in_schema_passes_the_door_check(spec: Any) -> None:
    check_schema(json_schema(spec), limits=DEFAULTS)


def test_the_default_limits_are_the_documented_openai_limits() -> None:
    assert (DEFAULTS.max_properties, DEFAULTS.max_depth, DEFAULTS.max_enum_values) == (
        5000,
        10,
        1000,
    )
    assert (DEFAULTS.max_string_chars, DEFAULTS.large_enum_values) == (120_000, 250)
    assert DEFAULTS.max_enum_chars_large == 15_000


def test_limits_refuse_unknown_fields_and_changes() -> None:
    with pytest.raises(ValidationError):
        ExtractorLimits(max_depht=3)  # type: ignore[call-arg]
    with pytest.raises(ValidationError):
        DEFAULTS.max_depth = 3  # type: ignore[misc]


INVALID_DRAFTS: list[object] = [
    5,
    {"type": 5},
    {"properties": {"a": {"type": "strin"}}},
    {"required": "a"},
    {"minLength": -1},
    {"anyOf": []},
    {"items": [{}]},
    {"$defs": {"a": 3}},
    {"enum": 3},
    {"dependencies": {"a": 3}},
    {"$ref": 5},
    {"properties": {"a": {"anyOf": [{"$defs": {"b": {"maxItems": "x"}}}]}}},
]


@pytest.mark.parametrize("schema", INVALID_DRAFTS)
def test_the_inlined_metaschema_reports_what_jsonschema_check_schema_reports(
    schema: object,
) -> None:
    with pytest.raises(SchemaError) as official:
        Draft202012Validator.check_schema(schema, format_checker=None)
    ours = metaschema_error(schema)
    assert ours is not None
    expected = (list(official.value.absolute_path), official.value.message)
    assert (list(ours.absolute_path), ours.message) == expected


def test_the_inlined_metaschema_accepts_the_claims_form_and_the_built_ins() -> None:
    schemas = [CLAIM, *(json_schema(spec) for spec in list_schemas())]
    assert [metaschema_error(schema) for schema in schemas] == [None] * len(schemas)
