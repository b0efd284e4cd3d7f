"""The schema registry, its errors, and what it derives from a schema's model."""

from __future__ import annotations

import pickle
import re
from typing import Annotated, Any

import pytest
from pydantic import BaseModel, Field

from schemas.errors import SchemaError, UnknownSchemaError
from schemas.extraction import (
    Contract,
    DocumentSummary,
    ExtractionModel,
    Invoice,
    PromptTemplate,
    Resume,
    SchemaShape,
    SchemaSpec,
    SummaryText,
    get_schema,
    json_schema,
    list_fields,
    list_schemas,
    schema_shape,
    summary_fields,
)

# --- errors ---------------------------------------------------------------------------------


def test_unknown_schema_error_lists_available_schemas() -> None:
    with pytest.raises(UnknownSchemaError) as exc:
        get_schema("purchase_order")
    assert exc.value.name == "purchase_order"
    names = ("contract", "document_summary", "invoice", "resume", "schema_inference")
    assert exc.value.available == names
    assert ", ".join(names) in str(exc.value)


def test_unknown_schema_error_is_a_non_retryable_schema_error() -> None:
    error = UnknownSchemaError("x", ["a"])
    assert isinstance(error, SchemaError)
    assert error.retryable is False


def test_unknown_schema_error_survives_pickling_for_celery() -> None:
    error = pickle.loads(pickle.dumps(UnknownSchemaError("x", ["b", "a"])))  # noqa: S301
    assert (error.name, error.available, str(error)) == (
        "x",
        ("a", "b"),
        "unknown schema 'x'; available schemas: a, b",
    )


# --- registry -------------------------------------------------------------------------------


def test_list_schemas_returns_every_schema_sorted_by_name() -> None:
    assert [s.name for s in list_schemas()] == [
        "contract",
        "document_summary",
        "invoice",
        "resume",
        "schema_inference",
    ]


def test_get_schema_returns_the_spec_with_its_model() -> None:
    spec = get_schema("invoice")
    assert spec.model is Invoice
    assert spec.name == "invoice"


def test_every_spec_carries_numeric_schema_version_and_dated_prompt_version() -> None:
    for spec in list_schemas():
        assert re.fullmatch(r"\d+", spec.version), spec.name
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}\.\d+", spec.prompt.version), spec.name
        assert spec.description


def test_schema_specs_are_immutable() -> None:
    spec = get_schema("invoice")
    with pytest.raises(AttributeError):
        spec.version = "2"  # type: ignore[misc]


def test_json_schema_returns_a_copy_the_caller_may_modify() -> None:
    spec = get_schema("invoice")
    first = json_schema(spec)
    first["properties"].clear()
    assert "total" in json_schema(spec)["properties"]


def _walk(node: Any) -> list[dict[str, Any]]:
    if isinstance(node, dict):
        return [node, *(n for v in node.values() for n in _walk(v))]
    if isinstance(node, list):
        return [n for v in node for n in _walk(v)]
    return []


def test_json_schemas_use_only_plain_constructs() -> None:
    # Providers' strict modes reject composition keywords and unknown keys; unions are
    # allowed only as "X or null".
    banned = {"allOf", "oneOf", "not", "if", "then", "else", "patternProperties", "merge"}
    for spec in list_schemas():
        for node in _walk(json_schema(spec)):
            assert not banned & node.keys(), (spec.name, node)
            if "anyOf" in node:
                assert len(node["anyOf"]) == 2, (spec.name, node)
                assert {"type": "null"} in node["anyOf"], (spec.name, node)


class _Deep(ExtractionModel):
    """Third level."""

    d: str


class _Inner(ExtractionModel):
    """Second level."""

    b: str
    c: _Deep | None = None


class _Outer(ExtractionModel):
    """First level."""

    a: int
    inner: _Inner
    tags: list[str] = Field(default_factory=list)


class _Node(ExtractionModel):
    """A recursive tree node."""

    name: str
    children: list[_Node] = Field(default_factory=list)


class _Listy(ExtractionModel):
    """Objects only inside lists."""

    rows: list[_Inner]


def _spec(model: type[ExtractionModel]) -> SchemaSpec:
    prompt = PromptTemplate(version="2026-01-01.1", system="s", user="{part}{attributes}{document}")
    return SchemaSpec(name="t", version="1", model=model, prompt=prompt, description="t")


def test_schema_shape_counts_nested_fields() -> None:
    # Leaves: a, inner.b, inner.c.d, tags. Objects nest Outer > Inner > Deep.
    assert schema_shape(_spec(_Outer)) == SchemaShape(fields=4, depth=3)


def test_schema_shape_counts_a_list_of_objects_as_one_nesting_level() -> None:
    assert schema_shape(_spec(_Listy)) == SchemaShape(fields=2, depth=3)


def test_schema_shape_stops_at_recursive_references() -> None:
    # The self-reference in `children` counts as one leaf instead of expanding forever.
    assert schema_shape(_spec(_Node)) == SchemaShape(fields=2, depth=1)


def test_schema_shape_of_registered_schemas() -> None:
    shapes = {spec.name: schema_shape(spec) for spec in list_schemas()}
    assert shapes == {
        "contract": SchemaShape(fields=11, depth=2),
        "document_summary": SchemaShape(fields=6, depth=2),
        "invoice": SchemaShape(fields=14, depth=2),
        "resume": SchemaShape(fields=12, depth=2),
        "schema_inference": SchemaShape(fields=5, depth=2),
    }


def test_summary_fields_finds_marked_fields_only() -> None:
    assert summary_fields(Contract) == ["summary"]
    assert summary_fields(DocumentSummary) == ["summary"]
    assert summary_fields(Resume) == ["summary"]
    assert summary_fields(Invoice) == []


def test_summary_marker_stays_out_of_the_json_schema() -> None:
    class Model(ExtractionModel):
        """m."""

        text: SummaryText = Field(description="d")

    assert summary_fields(Model) == ["text"]
    assert json_schema(_spec(Model))["properties"]["text"] == {
        "description": "d",
        "title": "Text",
        "type": "string",
    }


def test_list_fields_finds_top_level_lists_including_optional_ones() -> None:
    class Model(BaseModel):
        plain: list[str]
        optional: list[int] | None = None
        annotated: Annotated[list[str], Field(min_length=1)]
        optional_annotated: Annotated[list[str], Field(min_length=1)] | None = None
        scalar: str
        mapping: dict[str, list[str]]

    assert list_fields(Model) == ["plain", "optional", "annotated", "optional_annotated"]
    assert list_fields(Invoice) == ["line_items"]
    assert list_fields(Resume) == ["skills", "experience", "education"]
