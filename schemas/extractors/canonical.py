"""Canonical JSON, content hashes and the provider-facing copy of a tenant's JSON Schema."""

from __future__ import annotations

import hashlib
import json
from typing import Any

__all__ = ["ANNOTATION_PREFIX", "canonical_json", "merge_hints", "provider_schema", "sha256_of"]

# docqueue's own keywords: meaningful to the engine, unknown to every provider.
ANNOTATION_PREFIX = "x-docqueue-"


def canonical_json(value: Any) -> str:
    """One spelling for equal JSON values: sorted keys, no spaces, UTF-8 kept."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def sha256_of(value: Any) -> str:
    """The sha256 of a value's canonical JSON (a string is hashed as itself)."""
    text = value if isinstance(value, str) else canonical_json(value)
    return hashlib.sha256(text.encode()).hexdigest()


def provider_schema(schema: Any) -> Any:
    """A deep copy of `schema` without any `x-docqueue-*` keyword, as a provider must see it."""
    if isinstance(schema, dict):
        return {
            key: provider_schema(value)
            for key, value in schema.items()
            if not (isinstance(key, str) and key.startswith(ANNOTATION_PREFIX))
        }
    if isinstance(schema, list):
        return [provider_schema(item) for item in schema]
    return schema


def merge_hints(schema: dict[str, Any]) -> dict[str, str]:
    """Top-level properties annotated `x-docqueue-merge`, mapped to the hint's value."""
    properties = schema.get("properties")
    if not isinstance(properties, dict):
        return {}
    hints: dict[str, str] = {}
    for name, node in properties.items():
        if isinstance(node, dict) and isinstance(node.get(f"{ANNOTATION_PREFIX}merge"), str):
            hints[name] = node[f"{ANNOTATION_PREFIX}merge"]
    return hints
