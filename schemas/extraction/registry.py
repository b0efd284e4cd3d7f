"""Registry of extraction schemas: lookup by name, JSON Schema, shape and merge metadata."""

from __future__ import annotations

import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from pydantic import BaseModel

from schemas.errors import UnknownSchemaError
from schemas.extraction.base import ExtractionModel, is_summary
from schemas.extraction.contract import Contract
from schemas.extraction.document_summary import DocumentSummary
from schemas.extraction.inference import SCHEMA_INFERENCE_PROMPT, InferredSchema
from schemas.extraction.invoice import Invoice
from schemas.extraction.prompts import (
    CONTRACT_PROMPT,
    DOCUMENT_SUMMARY_PROMPT,
    INVOICE_PROMPT,
    RESUME_PROMPT,
    PromptTemplate,
)
from schemas.extraction.resume import Resume

__all__ = [
    "PromptTemplate",
    "SchemaShape",
    "SchemaSpec",
    "get_schema",
    "json_schema",
    "list_fields",
    "list_schemas",
    "schema_shape",
    "shape_of",
    "summary_fields",
]


@dataclass(frozen=True)
class SchemaSpec:
    """A named, versioned extraction schema with the prompt that fills it."""

    name: str
    version: str
    model: type[ExtractionModel]
    prompt: PromptTemplate
    description: str
    # Whether answers carry quotes from the document (README "Trust"): a schema the model
    # designs from samples, rather than reads out of one, has nothing to quote.
    evidence: bool = True


@dataclass(frozen=True)
class SchemaShape:
    """Size of a schema for the complexity router: leaf fields and object nesting depth."""

    fields: int
    depth: int


# Bump a schema's version whenever its fields or validators change, so stored results
# can be told apart from ones produced under different rules.
_SPECS: tuple[SchemaSpec, ...] = (
    SchemaSpec(
        name="document_summary",
        version="1",
        model=DocumentSummary,
        prompt=DOCUMENT_SUMMARY_PROMPT,
        description="Title, summary, key points, named entities and language of any document.",
    ),
    SchemaSpec(
        name="invoice",
        version="1",
        model=Invoice,
        prompt=INVOICE_PROMPT,
        description="Vendor, dates, line items and totals of an invoice, arithmetic-checked.",
    ),
    SchemaSpec(
        name="contract",
        version="1",
        model=Contract,
        prompt=CONTRACT_PROMPT,
        description="Parties, dates, governing law, obligations and renewal terms of a contract.",
    ),
    SchemaSpec(
        name="resume",
        version="1",
        model=Resume,
        prompt=RESUME_PROMPT,
        description="Contact details, skills, work history and education from a resume.",
    ),
    SchemaSpec(
        name="schema_inference",
        version="1",
        model=InferredSchema,
        prompt=SCHEMA_INFERENCE_PROMPT,
        description="Proposes extraction fields from sample documents (POST /v1/extractors/infer).",
        evidence=False,
    ),
)


def _index(specs: tuple[SchemaSpec, ...]) -> dict[str, SchemaSpec]:
    index: dict[str, SchemaSpec] = {}
    for spec in specs:
        if spec.name in index:
            raise ValueError(f"schema {spec.name!r} is registered twice")
        index[spec.name] = spec
    return index


_REGISTRY: Mapping[str, SchemaSpec] = types.MappingProxyType(_index(_SPECS))


def get_schema(name: str) -> SchemaSpec:
    """Return the spec registered under `name`, or raise UnknownSchemaError."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise UnknownSchemaError(name, _REGISTRY) from None


def list_schemas() -> list[SchemaSpec]:
    """Every registered spec, sorted by name."""
    return sorted(_REGISTRY.values(), key=lambda spec: spec.name)


def json_schema(spec: SchemaSpec) -> dict[str, Any]:
    """The JSON Schema of the spec's model (a fresh dict the caller may modify)."""
    return spec.model.model_json_schema()


@lru_cache(maxsize=64)
def schema_shape(spec: SchemaSpec) -> SchemaShape:
    """Count leaf fields and object nesting depth of the spec's JSON Schema."""
    return shape_of(json_schema(spec))


def shape_of(schema: Mapping[str, Any]) -> SchemaShape:
    """Count leaf fields and object nesting depth of any JSON Schema."""
    fields, depth = _shape(schema, schema.get("$defs", {}), (), {})
    return SchemaShape(fields=fields, depth=depth)


def _shape(
    node: Mapping[str, Any],
    defs: Mapping[str, Any],
    resolving: tuple[str, ...],
    memo: dict[str, tuple[int, int]],
) -> tuple[int, int]:
    # Depth counts nested objects: a flat object is 1, an object holding objects 2.
    # Arrays are transparent (a list of objects weighs what one object does) because
    # the model fills each element with the same effort it spends on a nested object.
    ref = node.get("$ref")
    if isinstance(ref, str):
        name = ref.rsplit("/", 1)[-1]
        if name in resolving or name not in defs:
            # A recursive (or unresolvable) reference is a leaf; expanding it never ends.
            return 1, 0
        # Each definition is measured once: re-expanding it at every reference is
        # exponential in a chain of definitions that each reference the next many times.
        if name not in memo:
            memo[name] = _shape(defs[name], defs, (*resolving, name), memo)
        return memo[name]
    for keyword in ("anyOf", "oneOf"):
        if keyword in node:
            # A union is as big as its biggest branch, so `X | None` weighs what X does.
            shapes = [_shape(branch, defs, resolving, memo) for branch in node[keyword]]
            return max((f for f, _ in shapes), default=1), max((d for _, d in shapes), default=0)
    if "allOf" in node:
        shapes = [_shape(part, defs, resolving, memo) for part in node["allOf"]]
        return sum(f for f, _ in shapes), max((d for _, d in shapes), default=0)
    properties = node.get("properties")
    if isinstance(properties, Mapping):
        shapes = [_shape(child, defs, resolving, memo) for child in properties.values()]
        return sum(f for f, _ in shapes), 1 + max((d for _, d in shapes), default=0)
    additional = node.get("additionalProperties")
    if isinstance(additional, Mapping) and additional:
        fields, depth = _shape(additional, defs, resolving, memo)
        return fields, depth + 1
    items = node.get("items")
    if isinstance(items, Mapping):
        return _shape(items, defs, resolving, memo)
    return 1, 0


def summary_fields(model: type[BaseModel]) -> list[str]:
    """Top-level fields marked as summaries, which the merge step reduces with an LLM call."""
    return [name for name, field in model.model_fields.items() if is_summary(field)]


def list_fields(model: type[BaseModel]) -> list[str]:
    """Top-level list fields, which the merge step concatenates across chunks."""
    return [name for name, field in model.model_fields.items() if _is_list(field.annotation)]


def _is_list(annotation: Any) -> bool:
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        # Pydantic strips a top-level Annotated but keeps one nested inside `... | None`.
        return _is_list(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        # `list[X] | None` is still a list field; None just means "absent".
        return any(_is_list(arg) for arg in typing.get_args(annotation))
    return origin is list or annotation is list
