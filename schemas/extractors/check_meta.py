"""The Draft 2020-12 metaschema with its vocabularies inlined, for a fast validity check."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import jsonschema_specifications
from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError, best_match

__all__ = ["flat_metaschema", "metaschema_error"]

_BASE = "https://json-schema.org/draft/2020-12/"


def _inline(value: Any) -> Any:
    # Every `$dynamicRef: "#meta"` resolves to the root metaschema when a schema (rather
    # than a metaschema extension) is validated, and "meta/x#/$defs/y" to the merged $defs.
    if isinstance(value, dict):
        fixed = {key: _inline(item) for key, item in value.items() if key != "$dynamicRef"}
        if value.get("$dynamicRef") == "#meta":
            fixed["$ref"] = "#"
        ref = value.get("$ref")
        if isinstance(ref, str) and ref.startswith("meta/"):
            fixed["$ref"] = "#" + ref.partition("#")[2]
        return fixed
    if isinstance(value, list):
        return [_inline(item) for item in value]
    return value


@lru_cache(maxsize=1)
def flat_metaschema() -> dict[str, Any]:
    """The official metaschema with allOf and $dynamicRef resolved statically.

    jsonschema resolves `$dynamicRef` at every subschema, which makes the official
    metaschema cost ~1.5 ms per node: a 256 KiB schema would hold a worker for a minute.
    The inlined copy validates the same keywords with the same messages about 8x faster.
    """
    root = Draft202012Validator.META_SCHEMA
    properties: dict[str, Any] = {}
    defs: dict[str, Any] = {}
    for part in root["allOf"]:
        vocabulary = jsonschema_specifications.REGISTRY.contents(_BASE + part["$ref"])
        properties.update(vocabulary.get("properties", {}))
        defs.update(vocabulary.get("$defs", {}))
    properties.update(root["properties"])  # the legacy keywords it still constrains
    flat = {"type": root["type"], "properties": properties, "$defs": defs}
    result: dict[str, Any] = _inline(flat)
    return result


@lru_cache(maxsize=1)
def _validator() -> Any:
    # No format checker: jsonschema would compile `pattern` with Python's re, while
    # docqueue runs patterns with RE2 and checks them itself.
    return Draft202012Validator(flat_metaschema(), format_checker=None)


def metaschema_error(schema: object) -> SchemaError | None:
    """The most relevant reason `schema` is not valid Draft 2020-12, as check_schema picks it."""
    error = best_match(_validator().iter_errors(schema))
    return None if error is None else SchemaError.create_from(error)
