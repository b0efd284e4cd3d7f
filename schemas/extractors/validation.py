"""Answers checked against a tenant's JSON Schema: Draft 2020-12, RE2 patterns, real formats."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any
from urllib.parse import unquote

import referencing
from jsonschema import Draft202012Validator, FormatChecker, validators
from jsonschema.exceptions import ValidationError, best_match
from jsonschema.protocols import Validator

from schemas.errors import SchemaInvalid
from schemas.extractors.canonical import canonical_json, sha256_of
from schemas.extractors.check_meta import metaschema_error
from schemas.extractors.patterns import PatternRefused, compile_pattern, search

__all__ = [
    "CHECKED_FORMATS",
    "MAX_VIOLATIONS",
    "SchemaKey",
    "answer_validator",
    "local_ref",
    "pointer",
    "violations",
]

# The formats an answer is held to. jsonschema silently skips a format whose checking
# library is missing, so the module refuses to load rather than accept bad values.
CHECKED_FORMATS = ("date", "date-time", "email", "uri", "uuid")
# A re-ask message past this many problems only costs tokens; the rest are counted.
MAX_VIOLATIONS = 50
_MAX_QUOTE = 80  # characters of an offending value quoted back (it may be a whole page)

try:
    _FORMATS = FormatChecker(CHECKED_FORMATS)
except KeyError as missing:  # pragma: no cover - rfc3339-validator or rfc3986-validator missing
    raise RuntimeError(f"jsonschema cannot check format {missing}: see pyproject") from None

# Values that are data, not subschemas: a "pattern" key inside an enum is not a regex.
_DATA_KEYWORDS = frozenset({"enum", "const", "default", "examples"})


def _quote(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= _MAX_QUOTE else f"{text[: _MAX_QUOTE - 5]}...{text[-1]}"


def _re2_pattern(
    validator: Validator, pattern: str, instance: Any, schema: Any
) -> Iterator[ValidationError]:
    # Python's re backtracks: "(a+)+$" on a long run of "a"s would hang the worker.
    if validator.is_type(instance, "string") and not search(pattern, instance):
        yield ValidationError(f"{_quote(instance)} does not match {pattern!r}")


def _re2_pattern_properties(
    validator: Validator, patterns: dict[str, Any], instance: Any, schema: Any
) -> Iterator[ValidationError]:
    if not validator.is_type(instance, "object"):
        return
    for pattern, subschema in patterns.items():
        for key, value in instance.items():
            if search(pattern, key):
                yield from validator.descend(value, subschema, path=key, schema_path=pattern)


_AnswerValidator = validators.extend(
    Draft202012Validator,
    validators={"pattern": _re2_pattern, "patternProperties": _re2_pattern_properties},
)


@dataclass(frozen=True)
class SchemaKey:
    """A schema that hashes and compares by its digest, so lru_cache keys on the sha256."""

    digest: str
    schema: Any = field(compare=False, hash=False)


def answer_validator(schema: dict[str, Any]) -> Validator:
    """A Draft 2020-12 validator for `schema` with RE2 patterns and format checks, cached.

    Raises SchemaInvalid for a schema that is not valid JSON Schema, holds a pattern RE2
    refuses, has a `$ref` that is not a JSON Pointer into itself, or nests a `$schema`
    (which would swap in a stock, backtracking validator).
    """
    return _compiled(SchemaKey(sha256_of(schema), schema))


@lru_cache(maxsize=512)
def _compiled(key: SchemaKey) -> Validator:
    # A private copy: later edits to the caller's dict cannot change a cached validator.
    schema = json.loads(canonical_json(key.schema))
    # The meta-schema check runs without format checking: its "regex" format would judge
    # patterns by Python's re, while RE2 (below) is the engine that will run them.
    # The door's inlined copy of the metaschema: the official one (with $dynamicRef) took
    # seconds on a large schema, on the first job of each version in each worker.
    wrong = metaschema_error(schema)
    if wrong is not None:
        raise SchemaInvalid(pointer(wrong.absolute_path), str(wrong.message))
    _refuse_unsafe(schema, "", schema)
    # An empty registry: jsonschema's default fetches remote $refs over the network.
    validator: Validator = _AnswerValidator(
        schema, format_checker=_FORMATS, registry=referencing.Registry()
    )
    return validator


def _refuse_unsafe(node: Any, where: str, root: dict[str, Any]) -> None:
    if isinstance(node, list):
        for index, item in enumerate(node):
            _refuse_unsafe(item, f"{where}/{index}", root)
        return
    if not isinstance(node, dict):
        return
    if "$schema" in node and node is not root:
        # descend() re-picks the validator class from a nested $schema: a draft-07 one
        # would run its patterns through Python's re.
        raise SchemaInvalid(f"{where}/$schema", "$schema is only allowed at the root")
    for name, value in node.items():
        here = f"{where}/{_escape(name)}"
        if name == "$ref" and isinstance(value, str) and local_ref(root, value) is None:
            # Resolved up front: a remote $ref would be fetched, a dangling one would
            # crash the validation of every answer instead of failing once, here.
            raise SchemaInvalid(here, f"$ref {value!r} does not point into this schema")
        try:
            if name == "pattern" and isinstance(value, str):
                compile_pattern(value)
            elif name == "patternProperties" and isinstance(value, dict):
                for pattern in value:
                    compile_pattern(pattern)
        except PatternRefused as exc:
            raise SchemaInvalid(here, str(exc)) from None
        if name not in _DATA_KEYWORDS:
            _refuse_unsafe(value, here, root)


def local_ref(root: Any, ref: str) -> Any:
    """The subschema a `#/...` JSON Pointer `$ref` names within `root`, or None."""
    if not ref.startswith("#") or (len(ref) > 1 and not ref.startswith("#/")):
        return None  # a remote document or a named $anchor
    target = root
    for raw in unquote(ref[1:]).split("/")[1:]:
        part = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(target, dict) and part in target:
            target = target[part]
        elif isinstance(target, list) and part.isdigit() and int(part) < len(target):
            target = target[int(part)]
        else:
            return None
    return target


def _escape(part: Any) -> str:
    return str(part).replace("~", "~0").replace("/", "~1")


def pointer(path: Iterable[Any]) -> str:
    """The JSON Pointer of a path (`/line_items/0/amount`); the root is `/`."""
    return "".join(f"/{_escape(part)}" for part in path) or "/"


def _order(error: ValidationError) -> list[tuple[int, int, str]]:
    # Array indexes compare as numbers, so /items/2 comes before /items/10.
    return [
        (0, part, "") if isinstance(part, int) else (1, 0, str(part))
        for part in error.absolute_path
    ]


def _describe(error: ValidationError) -> str:
    message = str(error.message)
    quoted = repr(error.instance)
    if len(quoted) > _MAX_QUOTE and quoted in message:
        message = message.replace(quoted, _quote(error.instance))
    if error.context:
        # "not valid under any of the given schemas" alone gives a re-ask nothing to fix.
        closest = best_match([error])
        if closest is not error:
            message += f" (closest: {pointer(closest.absolute_path)}: {_describe(closest)})"
    return message


def violations(validator: Validator, instance: Any) -> list[str]:
    """Every way `instance` breaks the schema, as `<JSON Pointer>: <reason>`, in path order."""
    errors = sorted(validator.iter_errors(instance), key=lambda e: (_order(e), e.message))
    lines = [f"{pointer(e.absolute_path)}: {_describe(e)}" for e in errors[:MAX_VIOLATIONS]]
    if len(errors) > MAX_VIOLATIONS:
        lines.append(f"... and {len(errors) - MAX_VIOLATIONS} more problems")
    return lines
