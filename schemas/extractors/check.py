"""The door check: a tenant's JSON Schema is accepted only if every provider can run it."""

from __future__ import annotations

import math

from schemas.errors import SchemaInvalid
from schemas.extraction.registry import shape_of
from schemas.extractors.canonical import canonical_json
from schemas.extractors.check_descent import check_descent
from schemas.extractors.check_graph import check_depth, check_recursion
from schemas.extractors.check_meta import metaschema_error
from schemas.extractors.check_rules import child_pointer
from schemas.extractors.check_walk import walk_schema
from schemas.extractors.limits import ExtractorLimits

__all__ = ["DRAFT_2020_12", "check_schema"]

DRAFT_2020_12 = "https://json-schema.org/draft/2020-12/schema"
# Python refuses to print integers past 4300 digits; canonical_json would then fail.
_MAX_INT_BITS = 10_000
_MESSAGE_CHARS = 300  # jsonschema quotes the offending value, which may be huge

# Reported after the recursion rule, in this order, when several limits are exceeded.
_WALK_LIMITS = ("max_enum_values", "max_enum_chars_large", "max_string_chars")


def check_schema(schema: object, *, limits: ExtractorLimits) -> None:
    """Accept a tenant's JSON Schema or raise SchemaInvalid(pointer, reason) for its first problem.

    Rules, in order: size; valid Draft 2020-12; the keyword subset both OpenAI strict mode
    and Anthropic tools accept, docqueue annotations and RE2 patterns; bounded $ref
    recursion; the `[extractors.limits]` counts.
    """
    _check_json(schema, limits)
    size = len(canonical_json(schema).encode())
    if size > limits.max_schema_bytes:
        raise SchemaInvalid(
            "",
            f"the schema is {size} bytes of canonical JSON, more than {limits.max_schema_bytes} "
            f"(the limit {limits.key('max_schema_bytes')})",
        )
    _check_draft(schema)
    if not isinstance(schema, dict):
        raise SchemaInvalid("", 'the root schema must be a JSON object with type "object"')
    walk = walk_schema(schema, limits)
    check_recursion(walk)
    check_descent(schema)
    if "max_properties" in walk.violations:
        raise walk.violations["max_properties"]
    check_depth(schema, limits)
    expanded = shape_of(schema).fields
    if expanded > limits.max_expanded_fields:
        raise SchemaInvalid(
            "",
            f"an answer to this schema has {expanded} leaf values once every $ref is "
            f"expanded, more than {limits.max_expanded_fields} "
            f"(the limit {limits.key('max_expanded_fields')})",
        )
    for limit in _WALK_LIMITS:
        if limit in walk.violations:
            raise walk.violations[limit]


def _check_json(schema: object, limits: ExtractorLimits) -> None:
    # Iterative, and first: the serializer and jsonschema both recurse, so a schema nested
    # 10,000 deep must be refused here rather than end in a RecursionError.
    stack: list[tuple[object, str, int]] = [(schema, "", 1)]
    while stack:
        value, pointer, depth = stack.pop()
        if isinstance(value, dict):
            items: list[tuple[str, object]] = []
            for key, item in value.items():
                if not isinstance(key, str):
                    raise SchemaInvalid(pointer, f"object key {key!r} is not a string")
                items.append((key, item))
        elif isinstance(value, list):
            items = [(str(index), item) for index, item in enumerate(value)]
        else:
            _check_scalar(value, pointer)
            continue
        if depth > limits.max_json_nesting:
            raise SchemaInvalid(
                pointer,
                f"the schema nests objects and arrays more than {limits.max_json_nesting} "
                f"levels deep (the limit {limits.key('max_json_nesting')})",
            )
        stack.extend((item, child_pointer(pointer, key), depth + 1) for key, item in items)


def _check_scalar(value: object, pointer: str) -> None:
    if isinstance(value, float) and not math.isfinite(value):
        raise SchemaInvalid(pointer, f"{value} is not a JSON number")
    if isinstance(value, int) and value.bit_length() > _MAX_INT_BITS:
        raise SchemaInvalid(pointer, "an integer this large is not a JSON number docqueue accepts")
    if not (value is None or isinstance(value, str | int | float | bool)):
        raise SchemaInvalid(pointer, f"a {type(value).__name__} is not a JSON value")


def _check_draft(schema: object) -> None:
    if isinstance(schema, dict) and "$schema" in schema:
        declared = schema["$schema"]
        # The trailing "#" spelling is common in copied schemas and names the same draft.
        if not isinstance(declared, str) or declared.removesuffix("#") != DRAFT_2020_12:
            raise SchemaInvalid("/$schema", f"$schema must be {DRAFT_2020_12!r}, not {declared!r}")
    error = metaschema_error(schema)
    if error is not None:
        pointer = "".join(child_pointer("", str(part)) for part in error.absolute_path)
        message = error.message
        if len(message) > _MESSAGE_CHARS:
            message = f"{message[:_MESSAGE_CHARS]}..."
        raise SchemaInvalid(pointer, f"not a valid Draft 2020-12 schema: {message}")
