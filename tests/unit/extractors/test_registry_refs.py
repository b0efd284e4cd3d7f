"""Extractor references and inference answers: pure rules, no database."""

from __future__ import annotations

import pytest
from jsonschema import Draft202012Validator

from schemas.errors import SchemaInvalid, UnknownSchemaError
from schemas.extraction.registry import SchemaShape, shape_of
from schemas.extractors.limits import ExtractorLimits
from tasks.extractors.inference import proposed_schema, samples_document
from tasks.extractors.registry import content_hash, parse_ref


@pytest.mark.parametrize(
    ("ref", "expected"),
    [("claims_form", ("claims_form", None)), ("claims_form@3", ("claims_form", 3))],
)
def test_a_reference_names_the_latest_or_a_pinned_version(
    ref: str, expected: tuple[str, int | None]
) -> None:
    assert parse_ref(ref) == expected


@pytest.mark.parametrize("ref", ["Claims", "claims@0", "claims@", "claims@x", "@3", "a-b", ""])
def test_a_malformed_reference_is_an_unknown_schema(ref: str) -> None:
    with pytest.raises(UnknownSchemaError):
        parse_ref(ref)


def test_content_hash_changes_with_each_part_and_ignores_key_order() -> None:
    base = content_hash(description="d", schema={"a": 1, "b": 2}, instructions=None)
    assert base == content_hash(description="d", schema={"b": 2, "a": 1}, instructions=None)
    assert base != content_hash(description="e", schema={"a": 1, "b": 2}, instructions=None)
    assert base != content_hash(description="d", schema={"a": 1, "b": 2}, instructions="x")


def test_an_inference_answer_becomes_a_schema_that_passes_the_door() -> None:
    answer = {
        "title": "Claim",
        "fields": [
            {"name": "claim_number", "type": "string", "description": "id", "required": True},
            {"name": "filed_on", "type": "date", "description": "when", "required": False},
            {"name": "claim_number", "type": "integer", "description": "dup", "required": True},
            {"name": "items", "type": "string_list", "description": "items", "required": True},
        ],
    }
    schema = proposed_schema(answer, limits=ExtractorLimits())
    assert list(schema["properties"]) == ["claim_number", "filed_on", "items"]
    assert schema["properties"]["claim_number"]["type"] == "string"  # the first proposal wins
    assert schema["required"] == ["claim_number", "items"]
    validator = Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
    assert validator.is_valid({"claim_number": "A1", "filed_on": None, "items": ["x"]})
    assert not validator.is_valid({"claim_number": "A1", "filed_on": "2026-13-40", "items": []})


def test_an_inference_answer_with_no_fields_is_refused_at_the_door() -> None:
    with pytest.raises(SchemaInvalid):
        proposed_schema({"title": "Nothing", "fields": []}, limits=ExtractorLimits())


def test_the_samples_document_holds_each_samples_head_after_the_hint() -> None:
    text = samples_document(
        samples=[("a.txt", "first " * 100), (None, "second")],
        hint="claims",
        base=None,
        max_chars=30,
    )
    assert text.startswith("Hint from the schema's author: claims")
    assert '<sample index="1" filename="a.txt">' in text
    assert '<sample index="2">\nsecond\n</sample>' in text
    assert "first " * 6 not in text  # cut to max_chars


def test_the_shape_of_a_fanned_out_schema_is_measured_without_expanding_it() -> None:
    defs = {
        f"d{i}": {
            "type": "object",
            "properties": {
                f"p{k}": {"$ref": f"#/$defs/d{i + 1}"} if i < 8 else {"type": "string"}
                for k in range(20)
            },
        }
        for i in range(9)
    }
    schema = {"type": "object", "properties": {"a": {"$ref": "#/$defs/d0"}}, "$defs": defs}
    # each definition is measured once: 20^9 leaves, counted in nine steps, not 20^9
    assert shape_of(schema) == SchemaShape(fields=20**9, depth=10)
