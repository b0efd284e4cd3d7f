"""Schema inference: samples in, one document for the inference job; its answer to a schema."""

from __future__ import annotations

import json
from typing import Any

from schemas.errors import SchemaInvalid
from schemas.extractors.check import check_schema
from schemas.extractors.limits import ExtractorLimits

__all__ = ["INFERENCE_EXTRACTOR", "proposed_schema", "samples_document"]

INFERENCE_EXTRACTOR = "schema_inference"  # the built-in whose answer lists the fields

# The proposed field types, as JSON Schema: narrow enough to validate, loose enough to fit.
_TYPES: dict[str, dict[str, Any]] = {
    "string": {"type": "string"},
    "number": {"type": "number"},
    "integer": {"type": "integer"},
    "boolean": {"type": "boolean"},
    "date": {"type": "string", "format": "date"},
    "string_list": {"type": "array", "items": {"type": "string"}},
}


def samples_document(
    *,
    samples: list[tuple[str | None, str]],
    hint: str | None,
    base: dict[str, Any] | None,
    max_chars: int,
) -> str:
    """One text holding each sample's head in a <sample> block, after the hint and base."""
    parts: list[str] = []
    if hint:
        parts.append(f"Hint from the schema's author: {hint.strip()}")
    if base is not None:
        parts.append("Refine this existing schema:\n" + json.dumps(base, indent=1)[:max_chars])
    for index, (filename, text) in enumerate(samples, start=1):
        name = f' filename="{filename}"' if filename else ""
        parts.append(f'<sample index="{index}"{name}>\n{text[:max_chars]}\n</sample>')
    return "\n\n".join(parts)


def proposed_schema(answer: dict[str, Any], *, limits: ExtractorLimits) -> dict[str, Any]:
    """The JSON Schema an inference answer describes, checked at the door like any other.

    Duplicate names keep their first proposal. Optional fields also accept null, so a
    document that lacks one still validates.
    """
    properties: dict[str, Any] = {}
    required: list[str] = []
    for field in answer.get("fields") or []:
        name = field["name"]
        if name in properties:
            continue
        node = dict(_TYPES[field["type"]])
        if not field["required"]:
            node = {"anyOf": [node, {"type": "null"}]}
        node["description"] = field["description"]
        properties[name] = node
        if field["required"]:
            required.append(name)
    schema: dict[str, Any] = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": str(answer.get("title") or "Inferred schema")[:120],
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": False,
    }
    try:
        check_schema(schema, limits=limits)
    except SchemaInvalid as exc:  # no fields at all: nothing to extract
        reason = f"the inferred schema is not acceptable: {exc.reason}"
        raise SchemaInvalid(exc.pointer, reason) from exc
    return schema
