"""ExtractorSpec: everything the engine needs to run one extractor version."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from schemas.extraction.prompts import PromptTemplate

__all__ = ["SYSTEM_OWNER", "ExtractorSpec", "MergePlan"]

SYSTEM_OWNER = "system"  # the owner of the built-in extractors


@dataclass(frozen=True)
class MergePlan:
    """How per-chunk answers combine: top-level list fields and LLM-reduced summary fields."""

    list_fields: tuple[str, ...]
    summary_fields: tuple[str, ...]


@dataclass(frozen=True, eq=False)
class ExtractorSpec:
    """One immutable extractor version, built-in or a tenant's, ready for the engine.

    `json_schema` is what providers see (annotations stripped). `model` validates a whole
    document's answer; `chunk_model` a chunk's (top-level fields optional, nullable).
    """

    name: str
    version: int
    owner: str  # SYSTEM_OWNER or the tenant id
    description: str
    json_schema: dict[str, Any]
    model: type[BaseModel]
    chunk_model: type[BaseModel]
    prompt: PromptTemplate
    merge: MergePlan
    schema_hash: str
    prompt_hash: str
    version_id: str | None = None  # the extractor_versions row, once registered
    evidence: bool = True  # answers come in the evidence envelope (schemas/trust/envelope.py)

    @property
    def ref(self) -> str:
        """`name@version`, the pin that reproduces this spec."""
        return f"{self.name}@{self.version}"
