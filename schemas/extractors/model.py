"""Pydantic models built from a tenant's JSON Schema, the relaxed chunk schema, merge plans."""

from __future__ import annotations

import copy
import re
from functools import lru_cache
from typing import Any, ClassVar, Literal

from jsonschema.protocols import Validator
from pydantic import BaseModel, ConfigDict, create_model, model_validator
from pydantic.json_schema import DEFAULT_REF_TEMPLATE, GenerateJsonSchema, JsonSchemaMode

from schemas.extraction.registry import list_fields, summary_fields
from schemas.extractors.canonical import ANNOTATION_PREFIX, merge_hints, provider_schema, sha256_of
from schemas.extractors.spec import MergePlan
from schemas.extractors.validation import SchemaKey, answer_validator, local_ref, violations

__all__ = [
    "TOOL_NAME",
    "AnswerModel",
    "build_model",
    "builtin_merge_plan",
    "chunk_schema",
    "merge_plan",
]

# What OpenAI and Anthropic accept as a tool name; the model's title becomes that name.
TOOL_NAME = re.compile(r"[a-zA-Z0-9_-]{1,64}")
_NULL = {"type": "null"}
_MAX_REF_HOPS = 32  # a $ref chain longer than this is a loop, not a list


class AnswerModel(BaseModel):
    """An answer held to a tenant's JSON Schema: kept exactly as given, checked by the schema."""

    # No declared fields: every key is stored as given, so model_dump returns the answer
    # untouched (no coercion, no whitespace stripping: the tenant's schema is the contract).
    model_config = ConfigDict(extra="allow")

    docqueue_validator: ClassVar[Validator]
    docqueue_json_schema: ClassVar[dict[str, Any]]

    @model_validator(mode="before")
    @classmethod
    def _check_against_schema(cls, data: Any) -> Any:
        # A ValueError here becomes a pydantic ValidationError, which instructor re-asks
        # with: the model reads every problem with its JSON Pointer in one message.
        problems = violations(cls.docqueue_validator, data)
        if problems:
            raise ValueError("; ".join(problems))
        return data

    @classmethod
    def model_json_schema(
        cls,
        by_alias: bool | None = None,
        ref_template: str = DEFAULT_REF_TEMPLATE,
        schema_generator: type[GenerateJsonSchema] = GenerateJsonSchema,
        mode: JsonSchemaMode = "validation",
        *,
        union_format: Literal["any_of", "primitive_type_array"] = "any_of",
    ) -> dict[str, Any]:
        """The tenant's schema as providers see it, titled and described for the tool call."""
        # Pydantic would describe a field-less object; the tenant's schema is the truth.
        return copy.deepcopy(cls.docqueue_json_schema)


def build_model(*, name: str, description: str, schema: dict[str, Any]) -> type[AnswerModel]:
    """The model instructor fills for `schema`, cached by name, description and schema hash.

    Raises ValueError for a name no provider accepts as a tool name, and SchemaInvalid
    for a schema the answer validator cannot run safely.
    """
    if not TOOL_NAME.fullmatch(name):
        raise ValueError(f"{name!r} is not a tool name (1-64 of a-z, A-Z, 0-9, _ and -)")
    return _built(name, description, SchemaKey(sha256_of(schema), schema))


@lru_cache(maxsize=512)
def _built(name: str, description: str, key: SchemaKey) -> type[AnswerModel]:
    validator = answer_validator(key.schema)
    json_schema = provider_schema(key.schema)
    json_schema["title"] = name
    json_schema["description"] = description
    # A fixed docstring: instructor parses __doc__ for parameter descriptions, and a
    # tenant's text there could rewrite the schema the provider sees.
    model = create_model(
        name, __base__=AnswerModel, __doc__="An answer to a tenant extractor.", __module__=__name__
    )
    model.docqueue_validator = validator
    model.docqueue_json_schema = json_schema
    return model


def chunk_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """The schema one chunk of a long document answers: nothing required, any field null.

    Nested constraints stay: a chunk's invoice number must still match its pattern.
    Raises SchemaInvalid, as answer_validator does, for a schema it cannot run.
    """
    relaxed = copy.deepcopy(schema)
    relaxed.pop("required", None)
    properties = relaxed.get("properties")
    if not isinstance(properties, dict):
        return relaxed
    # Whether a property already takes null is asked of the validator (through $refs,
    # type lists, enums) rather than guessed from its spelling.
    root = answer_validator(schema)
    for name, node in properties.items():
        if not root.evolve(schema=node).is_valid(None):
            properties[name] = _nullable(node)
    return relaxed


def _nullable(node: Any) -> dict[str, Any]:
    if not isinstance(node, dict):
        return {"anyOf": [node, dict(_NULL)]}
    # The field's description stays where providers read it, next to the field name.
    lifted = {"title", "description"}
    outer = {k: v for k, v in node.items() if k in lifted or k.startswith(ANNOTATION_PREFIX)}
    inner = {k: v for k, v in node.items() if k not in outer}
    return {**outer, "anyOf": [inner, dict(_NULL)]}


def merge_plan(schema: dict[str, Any]) -> MergePlan:
    """Top-level array fields (concatenated across chunks) and `summary`-hinted fields."""
    properties = schema.get("properties")
    if not isinstance(properties, dict):
        properties = {}
    lists = tuple(name for name, node in properties.items() if _is_array(node, schema))
    summaries = tuple(name for name, hint in merge_hints(schema).items() if hint == "summary")
    return MergePlan(list_fields=lists, summary_fields=summaries)


def builtin_merge_plan(model: type[BaseModel]) -> MergePlan:
    """The merge plan of a built-in pydantic model, read from its fields."""
    return MergePlan(
        list_fields=tuple(list_fields(model)), summary_fields=tuple(summary_fields(model))
    )


def _is_array(node: Any, root: dict[str, Any], hops: int = 0) -> bool:
    # `hops` bounds a chain of unions and refs: the door refuses cycles of them, and this
    # must not recurse forever on a schema that never went through the door either.
    node = _resolve(node, root)
    if hops > _MAX_REF_HOPS:
        return False
    if not isinstance(node, dict):
        return False
    kind = node.get("type")
    if kind == "array":
        return True
    if isinstance(kind, list) and [k for k in kind if k != "null"] == ["array"]:
        return True
    for keyword in ("anyOf", "oneOf"):
        branches = node.get(keyword)
        if isinstance(branches, list):
            # `list | null` is a list field; null only means "this chunk found none".
            kept = [b for b in branches if _resolve(b, root) != _NULL]
            return len(kept) == 1 and _is_array(kept[0], root, hops + 1)
    return False


def _resolve(node: Any, root: dict[str, Any]) -> Any:
    for _ in range(_MAX_REF_HOPS):
        ref = node.get("$ref") if isinstance(node, dict) else None
        if not isinstance(ref, str) or not ref.startswith("#"):
            return node
        node = local_ref(root, ref)
    return None
