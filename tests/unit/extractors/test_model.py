"""Models built from a tenant's JSON Schema: every constraint, RE2, formats, chunks, merges."""

from __future__ import annotations

import copy
import json
import re
from typing import Any

import pytest
from instructor.v2.providers.anthropic.schema import generate_anthropic_schema
from instructor.v2.providers.openai.schema import generate_openai_schema
from pydantic import BaseModel, ValidationError

from schemas.errors import SchemaInvalid
from schemas.extraction import DocumentSummary, Invoice
from schemas.extractors.canonical import provider_schema
from schemas.extractors.model import build_model, builtin_merge_plan, chunk_schema, merge_plan
from schemas.extractors.spec import MergePlan
from schemas.extractors.validation import answer_validator, violations
from tasks.engine.llm import instructor_model


def one_field(node: Any) -> dict[str, Any]:
    """An object schema with a single required field `v`."""
    return {"type": "object", "properties": {"v": node}, "required": ["v"]}


def model_of(schema: dict[str, Any], name: str = "answer") -> type[BaseModel]:
    """The model built for `schema` under a fixed description."""
    return build_model(name=name, description="A test extractor.", schema=schema)


def rejection(schema: dict[str, Any], data: Any) -> str:
    """The message of the ValidationError `data` raises against `schema`'s model."""
    with pytest.raises(ValidationError) as exc:
        model_of(schema).model_validate(data)
    return str(exc.value)


CONSTRAINTS = [
    ({"type": "string", "pattern": r"^[A-Z]{3}-\d+$"}, "INV-12", "inv-12", "does not match"),
    ({"enum": ["net30", "net60"]}, "net30", "net90", "is not one of"),
    ({"const": "EUR"}, "EUR", "USD", "'EUR' was expected"),
    ({"type": "number", "minimum": 0}, 0, -3, "-3 is less than the minimum of 0"),
    ({"type": "integer", "maximum": 10}, 10, 11, "11 is greater than the maximum of 10"),
    ({"type": "number", "exclusiveMinimum": 0}, 0.5, 0, "less than or equal to the minimum"),
    ({"type": "number", "exclusiveMaximum": 1}, 0.5, 1, "greater than or equal to the maximum"),
    ({"type": "number", "multipleOf": 0.5}, 1.5, 1.25, "is not a multiple of 0.5"),
    ({"type": "string", "minLength": 2}, "ab", "a", "is too short"),
    ({"type": "string", "maxLength": 3}, "abc", "abcd", "is too long"),
    ({"type": "array", "minItems": 2}, [1, 2], [1], "is too short"),
    ({"type": "array", "maxItems": 1}, [1], [1, 2], "is too long"),
    ({"type": "integer"}, 3, "3", "is not of type 'integer'"),
    ({"anyOf": [{"type": "string", "format": "date"}, {"type": "integer"}]}, 1999, "soon", "any"),
]


@pytest.mark.parametrize(("node", "good", "bad", "reason"), CONSTRAINTS)
def test_every_constraint_is_enforced_and_named_with_its_path(
    node: dict[str, Any], good: Any, bad: Any, reason: str
) -> None:
    assert model_of(one_field(node)).model_validate({"v": good}).model_dump() == {"v": good}
    message = rejection(one_field(node), {"v": bad})
    assert re.search(rf"/v: [^;]*{re.escape(reason)}", message), message


def test_a_missing_required_field_is_reported_at_the_root() -> None:
    assert "/: 'v' is a required property" in rejection(one_field({"type": "string"}), {})


def test_additional_properties_false_refuses_an_unknown_key() -> None:
    schema = {**one_field({"type": "string"}), "additionalProperties": False}
    assert "('extra' was unexpected)" in rejection(schema, {"v": "x", "extra": 1})


def test_constraints_inside_defs_are_enforced_through_ref_with_the_full_path() -> None:
    line = {"type": "object", "properties": {"sku": {"type": "string", "pattern": "^SKU-"}}}
    schema = {**one_field({"type": "array", "items": {"$ref": "#/$defs/Line"}})}
    schema["$defs"] = {"Line": {**line, "required": ["sku"]}}
    model_of(schema).model_validate({"v": [{"sku": "SKU-1"}]})
    message = rejection(schema, {"v": [{"sku": "SKU-1"}, {"sku": "X-2"}]})
    assert "/v/1/sku: 'X-2' does not match '^SKU-'" in message


def test_an_any_of_failure_names_the_closest_branch() -> None:
    node = {"anyOf": [{"type": "string", "pattern": r"^\d+$"}, {"type": "null"}]}
    assert "closest: /v: 'abc' does not match" in rejection(one_field(node), {"v": "abc"})


def test_every_violation_is_listed_in_path_order_in_one_message() -> None:
    schema = {
        "type": "object",
        "properties": {
            "items": {"type": "array", "items": {"type": "integer", "minimum": 0}},
            "total": {"type": "number", "minimum": 0},
        },
    }
    message = rejection(schema, {"total": -3, "items": [1, -1, 2, 3, 4, 5, 6, 7, 8, 9, -10]})
    first, second, third = (
        message.index("/items/1: -1"),
        message.index("/items/10: -10"),
        message.index("/total: -3 is less than the minimum of 0"),
    )
    assert first < second < third


FORMATS = [
    ("date", "2024-02-29", "2024-02-30"),
    ("date-time", "2024-01-01T10:00:00Z", "2024-01-01 10:00"),
    ("email", "ada@example.com", "ada.example.com"),
    ("uri", "https://example.com/a?b=1", "example.com/a"),
    ("uuid", "123e4567-e89b-12d3-a456-426614174000", "123e4567-e89b"),
]


@pytest.mark.parametrize(("name", "good", "bad"), FORMATS)
def test_each_format_is_actually_checked(name: str, good: str, bad: str) -> None:
    validator = answer_validator(one_field({"type": "string", "format": name}))
    assert violations(validator, {"v": good}) == []
    assert violations(validator, {"v": bad}) == [f"/v: {bad!r} is not a {name!r}"]


@pytest.mark.timeout(10)
def test_a_backtracking_pattern_runs_in_linear_time_on_a_hostile_value() -> None:
    # Python's re would take longer than the universe has left on this input.
    message = rejection(
        one_field({"type": "string", "pattern": "^(a+)+$"}), {"v": "a" * 50000 + "!"}
    )
    assert "does not match '^(a+)+$'" in message
    assert len(message) < 1000  # the offending value is quoted, not copied whole


@pytest.mark.parametrize(
    "schema",
    [
        one_field({"type": "string", "pattern": r"(a)\1"}),  # a backreference: not RE2
        one_field({"$schema": "http://json-schema.org/draft-07/schema#", "pattern": "^a"}),
        one_field({"$ref": "https://example.com/remote.json"}),
        one_field({"$ref": "#/$defs/Missing"}),
        one_field({"type": "text"}),
    ],
)
def test_a_schema_the_validator_cannot_run_safely_is_refused(schema: dict[str, Any]) -> None:
    with pytest.raises(SchemaInvalid, match=r"^/properties/v"):
        answer_validator(schema)


def test_validators_are_cached_by_the_schema_hash() -> None:
    schema = one_field({"type": "string", "maxLength": 4})
    assert answer_validator(copy.deepcopy(schema)) is answer_validator(schema)
    assert answer_validator(one_field({"type": "string"})) is not answer_validator(schema)


TENANT: dict[str, Any] = {
    "type": "object",
    "properties": {
        "invoice_number": {
            "type": "string",
            "pattern": "^INV-[0-9]+$",
            "x-docqueue-merge": "first",
        },
        "notes": {"type": "string", "x-docqueue-merge": "summary"},
        "lines": {"type": "array", "items": {"$ref": "#/$defs/Line"}},
    },
    "required": ["invoice_number"],
    "$defs": {"Line": {"type": "object", "properties": {"sku": {"type": "string"}}}},
}


def test_the_model_json_schema_is_the_provider_schema_titled_and_described() -> None:
    model = build_model(name="acme_invoice", description="ACME invoices.", schema=TENANT)
    expected = {**provider_schema(TENANT), "title": "acme_invoice", "description": "ACME invoices."}
    assert model.model_json_schema() == expected


@pytest.mark.parametrize("generate", [generate_openai_schema, generate_anthropic_schema])
def test_the_tool_instructor_sends_carries_the_tenant_schema_without_annotations(
    generate: Any,
) -> None:
    tool = generate(instructor_model(model_of(TENANT, name="acme_invoice")))
    assert tool["name"] == "acme_invoice"
    assert tool["description"] == "A test extractor."
    sent = tool["parameters"] if "parameters" in tool else tool["input_schema"]
    assert sent["properties"]["invoice_number"]["pattern"] == "^INV-[0-9]+$"
    assert sent["$defs"] == TENANT["$defs"]
    assert sent["required"] == ["invoice_number"]
    assert "x-docqueue-" not in json.dumps(tool)


@pytest.mark.parametrize("name", ["", "has space", "dotted.name", "x" * 65])
def test_a_name_no_provider_takes_as_a_tool_name_is_refused(name: str) -> None:
    with pytest.raises(ValueError, match="tool name"):
        model_of(TENANT, name=name)


def test_models_are_cached_by_name_description_and_schema_hash() -> None:
    model = model_of(TENANT)
    assert model_of(copy.deepcopy(TENANT)) is model
    assert build_model(name="answer", description="Other.", schema=TENANT) is not model
    assert model_of(one_field({"type": "string"})) is not model


def test_a_valid_answer_round_trips_exactly_as_given() -> None:
    schema = {"type": "object", "properties": {"lines": {"type": "array"}, "n": {"type": "number"}}}
    answer = {
        "name": "  padded  ",
        "n": 1.0,
        "count": 3,
        "none": None,
        "lines": [{"sku": "é-1", "qty": 2}, []],
        "model_config": "a key that shadows a pydantic attribute",
    }
    model = model_of(schema)
    assert model.model_validate(answer).model_dump(mode="json") == answer
    assert model.model_validate_json(json.dumps(answer)).model_dump(mode="json") == answer


def test_a_chunk_may_omit_every_field_or_answer_null() -> None:
    chunk = model_of(chunk_schema(TENANT))
    assert chunk.model_validate({}).model_dump() == {}
    nulls = {"invoice_number": None, "notes": None, "lines": None}
    assert chunk.model_validate(nulls).model_dump() == nulls
    with pytest.raises(ValidationError):
        model_of(TENANT).model_validate(nulls)


def test_a_chunk_still_enforces_nested_patterns() -> None:
    schema = copy.deepcopy(TENANT)
    schema["$defs"]["Line"]["properties"]["sku"]["pattern"] = "^SKU-"
    chunk = model_of(chunk_schema(schema))
    with pytest.raises(ValidationError, match="/lines/0/sku: 'X' does not match"):
        chunk.model_validate({"lines": [{"sku": "X"}]})
    with pytest.raises(ValidationError, match="/invoice_number: 'inv-1' does not match"):
        chunk.model_validate({"invoice_number": "inv-1"})


def test_chunk_schema_leaves_nullable_fields_and_the_original_alone() -> None:
    schema = {
        "type": "object",
        "properties": {"a": {"type": ["string", "null"]}},
        "required": ["a"],
    }
    original = copy.deepcopy(schema)
    assert chunk_schema(schema) == {
        "type": "object",
        "properties": {"a": {"type": ["string", "null"]}},
    }
    assert schema == original
    wrapped = chunk_schema(TENANT)["properties"]["notes"]
    assert wrapped == {
        "x-docqueue-merge": "summary",
        "anyOf": [{"type": "string"}, {"type": "null"}],
    }


def test_merge_plan_finds_list_fields_through_refs_and_nullable_unions_and_summaries() -> None:
    schema = {
        "type": "object",
        "$defs": {"Lines": {"type": "array"}},
        "properties": {
            "plain": {"type": "array"},
            "by_ref": {"$ref": "#/$defs/Lines"},
            "nullable": {"anyOf": [{"$ref": "#/$defs/Lines"}, {"type": "null"}]},
            "typed": {"type": ["array", "null"]},
            "either": {"anyOf": [{"type": "array"}, {"type": "string"}]},
            "text": {"type": "string", "x-docqueue-merge": "summary"},
            "first": {"type": "string", "x-docqueue-merge": "first"},
        },
    }
    assert merge_plan(schema) == MergePlan(
        list_fields=("plain", "by_ref", "nullable", "typed"), summary_fields=("text",)
    )


def test_builtin_merge_plans_come_from_the_model_fields() -> None:
    assert builtin_merge_plan(DocumentSummary) == MergePlan(
        ("key_points", "entities"), ("summary",)
    )
    assert builtin_merge_plan(Invoice) == MergePlan(("line_items",), ())
