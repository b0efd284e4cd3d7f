"""Request and response models of the extractor routes."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from schemas.api import DocumentSource, TierChoice, storable
from schemas.trust.config import Verify

NAME_PATTERN = r"^[a-z][a-z0-9_]{0,63}$"


class ExtractorCreate(BaseModel):
    """POST /v1/extractors: a slug name, the JSON Schema and the instructions."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=NAME_PATTERN, description="A slug: lowercase, digits, `_`.")
    description: str = Field(default="", max_length=2000)
    json_schema: dict[str, Any]
    instructions: str | None = Field(default=None, max_length=20_000)
    # Trust settings of the extractor (not of the version: they never change its hashes).
    review_threshold: float | None = Field(default=None, ge=0, le=1)
    verify: Verify | None = None

    @field_validator("description", "json_schema", "instructions")
    @classmethod
    def _storable(cls, value: Any) -> Any:
        return storable(value)


class ExtractorVersionOut(BaseModel):
    """One immutable extractor version."""

    name: str
    version: int
    owner: Literal["system", "tenant"]
    description: str
    instructions: str | None
    json_schema: dict[str, Any]
    schema_hash: str
    prompt_hash: str
    created_at: dt.datetime


class VersionBrief(BaseModel):
    """A version as an extractor's listing shows it."""

    version: int
    schema_hash: str
    prompt_hash: str
    created_at: dt.datetime


class ExtractorOut(BaseModel):
    """An extractor; with `versions` when read on its own."""

    name: str
    owner: Literal["system", "tenant"]
    description: str
    latest_version: int
    archived: bool
    created_at: dt.datetime
    review_threshold: float | None = Field(
        default=None, description="this extractor's review threshold (null: the tenant's)"
    )
    verify: Verify | None = Field(default=None, description="null: the server's default")
    versions: list[VersionBrief] | None = None


class ExtractorSettings(BaseModel):
    """PATCH /v1/extractors/{name}: the fields given change (null: back to the default)."""

    model_config = ConfigDict(extra="forbid")

    review_threshold: float | None = Field(default=None, ge=0, le=1)
    verify: Verify | None = None


class ExtractorList(BaseModel):
    """GET /v1/extractors."""

    data: list[ExtractorOut]


class InferRequest(BaseModel):
    """POST /v1/extractors/infer: 1-5 sample documents and an optional hint."""

    model_config = ConfigDict(extra="forbid")

    samples: list[DocumentSource] = Field(min_length=1, max_length=20)
    hint: str | None = Field(default=None, max_length=2000)
    base: str | None = Field(default=None, max_length=80, description="An extractor to refine.")
    tier: TierChoice = "medium"

    @field_validator("hint")
    @classmethod
    def _storable_hint(cls, value: Any) -> Any:
        return storable(value)


class InferOut(BaseModel):
    """An inference: the proposed schema once its job succeeded (not saved)."""

    job_id: uuid.UUID
    status: str
    json_schema: dict[str, Any] | None = None
    fields: int | None = None
    cost_usd: Decimal | None = None


class RerunRequest(BaseModel):
    """POST /v1/batches/{id}/rerun: the extractor version to run the same documents through."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    schema_name: str = Field(alias="schema", min_length=1, max_length=80)
    tier: TierChoice | None = Field(
        default=None,
        description="A tier for every job; absent or `auto` keeps the tier each job was routed to.",
    )
