"""Build an ExtractorSpec from a built-in model or from a stored tenant schema."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from schemas.extraction.partial import partial_model
from schemas.extraction.prompts import PromptTemplate, custom_prompt
from schemas.extraction.registry import SchemaSpec, json_schema
from schemas.extractors.canonical import provider_schema, sha256_of
from schemas.extractors.model import build_model, builtin_merge_plan, chunk_schema, merge_plan
from schemas.extractors.spec import SYSTEM_OWNER, ExtractorSpec

__all__ = ["builtin_spec", "prompt_hash", "stored_spec"]


def prompt_hash(prompt: PromptTemplate) -> str:
    """The hash of a prompt template's texts (the document slot left unfilled)."""
    return sha256_of({"system": prompt.system, "user": prompt.user})


@lru_cache(maxsize=64)  # a partial model per call would cost a create_model per job
def builtin_spec(
    spec: SchemaSpec, *, version: int = 1, version_id: str | None = None
) -> ExtractorSpec:
    """A built-in schema as an extractor of the system, validated by its Pydantic model."""
    schema = json_schema(spec)
    return ExtractorSpec(
        name=spec.name,
        version=version,
        owner=SYSTEM_OWNER,
        description=spec.description,
        json_schema=schema,
        model=spec.model,
        chunk_model=partial_model(spec.model),
        prompt=spec.prompt,
        merge=builtin_merge_plan(spec.model),
        schema_hash=sha256_of(schema),
        prompt_hash=prompt_hash(spec.prompt),
        version_id=version_id,
        evidence=spec.evidence,
    )


def stored_spec(
    *,
    name: str,
    version: int,
    owner: str,
    description: str,
    schema: dict[str, Any],
    instructions: str | None,
    version_id: str | None = None,
    prompt: PromptTemplate | None = None,
) -> ExtractorSpec:
    """An extractor version validated by a model built from its JSON Schema.

    `prompt` is the version's stored template; a new version renders it from the
    instructions.
    """
    if prompt is None:
        prompt = custom_prompt(name=name, description=description, instructions=instructions)
    sent = provider_schema(schema)
    return ExtractorSpec(
        name=name,
        version=version,
        owner=owner,
        description=description,
        json_schema=sent,
        model=build_model(name=name, description=description, schema=schema),
        chunk_model=build_model(name=name, description=description, schema=chunk_schema(schema)),
        prompt=prompt,
        merge=merge_plan(schema),
        schema_hash=sha256_of(sent),
        prompt_hash=prompt_hash(prompt),
        version_id=version_id,
    )
