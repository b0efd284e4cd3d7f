"""Schema builders and a realistic claims form shared by the door-check tests."""

from __future__ import annotations

from typing import Any

import pytest

from schemas.errors import SchemaInvalid
from schemas.extractors.check import DRAFT_2020_12, check_schema
from schemas.extractors.limits import ExtractorLimits

DEFAULTS = ExtractorLimits()
STR: dict[str, Any] = {"type": "string"}


def root(**properties: Any) -> dict[str, Any]:
    """An object root schema with these properties."""
    return {"type": "object", "properties": properties}


def with_defs(defs: dict[str, Any], **properties: Any) -> dict[str, Any]:
    """An object root schema with these properties and $defs."""
    return {**root(**properties), "$defs": defs}


def ref(name: str) -> dict[str, str]:
    """A local $ref to the definition `name`."""
    return {"$ref": f"#/$defs/{name}"}


def node(child: dict[str, Any], *, required: bool = True, **extra: Any) -> dict[str, Any]:
    """A recursive Node definition whose `child` property is `child`."""
    schema = {"type": "object", "properties": {"v": STR, "child": child}, **extra}
    return {**schema, "required": ["v", "child"] if required else ["v"]}


def nested(levels: int) -> dict[str, Any]:
    """A string wrapped in `levels` arrays."""
    schema: dict[str, Any] = STR
    for _ in range(levels):
        schema = {"type": "array", "items": schema}
    return schema


def refusal(schema: object, limits: ExtractorLimits = DEFAULTS) -> SchemaInvalid:
    """The SchemaInvalid the door check raises for `schema` (fails the test if none)."""
    with pytest.raises(SchemaInvalid) as caught:
        check_schema(schema, limits=limits)
    return caught.value


def limited(**fields: int) -> ExtractorLimits:
    """Default limits with these fields changed."""
    return ExtractorLimits.model_validate(fields)


PARTY = {
    "type": "object",
    "properties": {
        "name": {**STR, "minLength": 1, "maxLength": 200},
        "email": {"type": ["string", "null"], "format": "email"},
    },
    "required": ["name", "email"],
    "additionalProperties": False,
}
ITEM = {
    "type": "object",
    "properties": {"label": STR, "parts": {"type": "array", "items": ref("Item")}},
}
CLAIM: dict[str, Any] = {
    "$schema": DRAFT_2020_12,
    "$comment": "claims intake, version 3",
    "title": "Claim",
    "description": "An insurance claim form.",
    "type": "object",
    "additionalProperties": False,
    "$defs": {"Party": PARTY, "Item": {**ITEM, "required": ["label", "parts"]}},
    "properties": {
        "claim_id": {**STR, "format": "uuid", "pattern": "^[0-9a-f-]{36}$"},
        "filed_at": {**STR, "format": "date-time"},
        "incident_date": {**STR, "format": "date", "description": "YYYY-MM-DD"},
        "policy_url": {**STR, "format": "uri"},
        "claimant": {**ref("Party"), "description": "Who files the claim."},
        "kind": {
            **STR,
            "enum": ["auto", "home", "travel"],
            "default": "auto",
            "examples": ["home"],
        },
        "currency": {**STR, "const": "EUR"},
        "amount": {"type": "number", "minimum": 0, "maximum": 1_000_000, "multipleOf": 0.01},
        "deductible": {"type": "integer", "exclusiveMinimum": 0, "exclusiveMaximum": 10_000},
        "witnesses": {"type": "array", "items": ref("Party"), "minItems": 0, "maxItems": 10},
        "damaged_items": {"type": "array", "items": ref("Item")},
        "police_report": {"anyOf": [{**STR, "maxLength": 50}, {"type": "null"}], "default": None},
        "narrative": {**STR, "title": "Narrative", "x-docqueue-merge": "summary"},
    },
    "required": ["claim_id", "claimant", "amount", "narrative"],
}
