"""The accepted keyword subset and the per-keyword rules of the door check."""

from __future__ import annotations

from typing import Any

from schemas.errors import SchemaInvalid
from schemas.extractors.canonical import ANNOTATION_PREFIX
from schemas.extractors.limits import ExtractorLimits
from schemas.extractors.patterns import PatternRefused, compile_pattern

__all__ = [
    "ALLOWED",
    "APPLIES_TO",
    "FORMATS",
    "MERGE_KEY",
    "check_annotation",
    "check_bounds",
    "check_pattern",
    "child_pointer",
    "is_scalar",
    "refused_keyword",
    "schema_types",
]

MERGE_KEY = f"{ANNOTATION_PREFIX}merge"

_STRING = frozenset({"string"})
_NUMBER = frozenset({"number", "integer"})
_ARRAY = frozenset({"array"})
_OBJECT = frozenset({"object"})

# What OpenAI strict structured outputs and Anthropic tool input_schema both accept.
APPLIES_TO: dict[str, frozenset[str]] = {
    "pattern": _STRING,
    "format": _STRING,
    "minLength": _STRING,
    "maxLength": _STRING,
    "minimum": _NUMBER,
    "maximum": _NUMBER,
    "exclusiveMinimum": _NUMBER,
    "exclusiveMaximum": _NUMBER,
    "multipleOf": _NUMBER,
    "items": _ARRAY,
    "minItems": _ARRAY,
    "maxItems": _ARRAY,
    "properties": _OBJECT,
    "required": _OBJECT,
    "additionalProperties": _OBJECT,
}
_ANY_TYPE = frozenset(
    {"type", "$defs", "$ref", "anyOf", "enum", "const", "$schema"}
    | {"description", "title", "default", "examples", "$comment"}
)
ALLOWED = frozenset(APPLIES_TO) | _ANY_TYPE

FORMATS = ("date", "date-time", "email", "uri", "uuid")

_HINTS = {
    "oneOf": "use anyOf",
    "allOf": "merge the parts into one schema",
    "not": "describe the accepted values instead",
    "if": "conditional schemas are not supported",
    "then": "conditional schemas are not supported",
    "else": "conditional schemas are not supported",
    "patternProperties": "name every property under properties",
    "propertyNames": "name every property under properties",
    "prefixItems": "use items with a single schema",
    "unevaluatedProperties": "use additionalProperties: false",
    "unevaluatedItems": "use items with a single schema",
    # OpenAI strict mode rejects uniqueItems (Anthropic would accept it), so it is refused
    # rather than silently dropped: the answer could then hold duplicates the tenant forbade.
    "uniqueItems": "OpenAI strict mode rejects it; remove duplicates after extraction",
    "$id": "only local #/$defs/<name> references are supported",
    "$anchor": "only local #/$defs/<name> references are supported",
    "$dynamicRef": "only local #/$defs/<name> references are supported",
    "definitions": "use $defs",
}

_LOOKAROUND = (
    ("(?<=", "a lookbehind"),
    ("(?<!", "a lookbehind"),
    ("(?=", "a lookahead"),
    ("(?!", "a lookahead"),
    ("(?>", "an atomic group"),
    ("(?(", "a conditional"),
)


def child_pointer(pointer: str, token: str) -> str:
    """The RFC 6901 pointer one step below `pointer`."""
    return f"{pointer}/{token.replace('~', '~0').replace('/', '~1')}"


def schema_types(schema: dict[str, Any]) -> set[str] | None:
    """The declared `type` as a set, or None when the schema declares none."""
    declared = schema.get("type")
    if isinstance(declared, str):
        return {declared}
    if isinstance(declared, list):
        return {str(item) for item in declared}
    return None


def is_scalar(value: object) -> bool:
    """A JSON string, number, boolean or null."""
    return value is None or isinstance(value, str | int | float | bool)


def refused_keyword(key: str, at: str) -> SchemaInvalid:
    """The error for a keyword outside the subset, with a hint where one helps."""
    hint = _HINTS.get(key)
    reason = (
        f"keyword {key!r} is not supported: docqueue accepts only what both OpenAI strict "
        "structured outputs and Anthropic tool schemas accept"
    )
    return SchemaInvalid(at, f"{reason}; {hint}" if hint else reason)


def check_annotation(key: str, value: Any, at: str, place: str, types: set[str] | None) -> None:
    """x-docqueue-merge: "summary", on a top-level string property; no other annotation."""
    if key != MERGE_KEY:
        raise SchemaInvalid(at, f"unknown docqueue annotation {key!r}; the only one is {MERGE_KEY}")
    if place != "top":
        raise SchemaInvalid(at, f"{MERGE_KEY} is only accepted on a top-level property")
    if value != "summary":
        raise SchemaInvalid(at, f'{MERGE_KEY} must be "summary", not {value!r}')
    if types != {"string"}:
        raise SchemaInvalid(at, f'{MERGE_KEY} needs a property of type "string"')


def check_bounds(schema: dict[str, Any], pointer: str) -> None:
    """Whole-number lengths and counts; lower bounds that some value can still satisfy."""
    for key in ("minLength", "maxLength", "minItems", "maxItems"):
        value = schema.get(key)
        if value is not None and (
            not isinstance(value, int) or isinstance(value, bool) or value < 0
        ):
            raise SchemaInvalid(child_pointer(pointer, key), f"{key} must be a whole number >= 0")
    for low, high in (("minLength", "maxLength"), ("minItems", "maxItems")):
        if low in schema and high in schema and schema[low] > schema[high]:
            raise SchemaInvalid(
                child_pointer(pointer, low),
                f"{low} {schema[low]} is greater than {high} {schema[high]}",
            )
    for low, high, empty_when_equal in (
        ("minimum", "maximum", False),
        ("exclusiveMinimum", "maximum", True),
        ("minimum", "exclusiveMaximum", True),
        ("exclusiveMinimum", "exclusiveMaximum", True),
    ):
        if low in schema and high in schema:
            a, b = schema[low], schema[high]
            if a > b or (empty_when_equal and a == b):
                raise SchemaInvalid(
                    child_pointer(pointer, low),
                    f"no number satisfies both {low} {a} and {high} {b}",
                )


def check_pattern(pattern: str, at: str, limits: ExtractorLimits) -> None:
    """A pattern RE2 runs in linear time, within max_pattern_chars."""
    if len(pattern) > limits.max_pattern_chars:
        raise SchemaInvalid(
            at,
            f"pattern is {len(pattern)} characters, more than {limits.max_pattern_chars} "
            f"(the limit {limits.key('max_pattern_chars')})",
        )
    try:
        compile_pattern(pattern)
    except PatternRefused as exc:
        construct = _backtracking_construct(pattern)
        if construct is not None:
            raise SchemaInvalid(
                at,
                f"pattern needs backtracking ({construct}); docqueue runs patterns with RE2, "
                "in linear time, so backreferences and lookaround are not supported",
            ) from None
        prefix = f"pattern {pattern!r} needs backtracking or is invalid: "
        message = str(exc)
        reason = message[len(prefix) :] if message.startswith(prefix) else message
        raise SchemaInvalid(at, f"pattern is not a valid regular expression: {reason}") from None


def _backtracking_construct(pattern: str) -> str | None:
    # RE2 says only "invalid escape" or "invalid perl operator"; naming the construct
    # tells the tenant the pattern is fine for other engines but needs backtracking.
    in_class = False
    index = 0
    while index < len(pattern):
        char = pattern[index]
        if char == "\\":
            following = pattern[index + 1 : index + 3]
            if not in_class and following[:1].isdigit() and following[:1] != "0":
                return "a backreference"
            if not in_class and following in ("k<", "k{", "k'"):
                return "a named backreference"
            index += 2
            continue
        if in_class:
            in_class = char != "]"
        elif char == "[":
            in_class = True
        else:
            for prefix, construct in _LOOKAROUND:
                if pattern.startswith(prefix, index):
                    return construct
        index += 1
    return None
