"""Request and response models of the HTTP API."""

from __future__ import annotations

import datetime as dt
import math
import re
import uuid
from decimal import Decimal
from typing import Any, Literal, Self

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from schemas.lanes import LaneChoice
from schemas.trust.config import Verify
from schemas.trust.envelope import DocumentFit
from schemas.trust.fields import FieldOut

TierChoice = Literal["auto", "low", "medium", "high"]
# Postgres `text` and `jsonb` refuse NUL characters and lone UTF-16 surrogates.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


# Deeper JSON reaches recursion limits in the encoders and Postgres' jsonb stack: refuse it
# with a 422 long before (no real metadata nests this deep).
MAX_JSON_DEPTH = 32


def storable(value: Any, *, depth: int = 0) -> Any:
    """`value` unchanged, or ValueError if a string in it (keys too) cannot be stored."""
    if depth > MAX_JSON_DEPTH:
        raise ValueError(f"must not nest deeper than {MAX_JSON_DEPTH} levels")
    if isinstance(value, str) and _UNSTORABLE.search(value):
        raise ValueError("must not contain NUL characters or lone surrogates")
    if isinstance(value, float) and not math.isfinite(value):
        # 1e999, NaN and Infinity parse, but jsonb (like JSON itself) has no such numbers
        raise ValueError("numbers must be finite (JSON has no NaN or Infinity)")
    if isinstance(value, dict):
        for key, item in value.items():
            storable(key)
            storable(item, depth=depth + 1)
    elif isinstance(value, list):
        for item in value:
            storable(item, depth=depth + 1)
    return value


class Submission(BaseModel):
    """What a submission of one or many documents asks for: schema, tier, lane, webhook, reuse."""

    model_config = ConfigDict(populate_by_name=True, extra="forbid")

    # `name` or `name@N`: a 64-character slug and its pin
    schema_name: str = Field(alias="schema", min_length=1, max_length=80)
    tier: TierChoice = "auto"
    webhook_url: str | None = Field(default=None, max_length=2048)
    reuse: bool = False
    # Trust policy for these jobs; absent: the extractor's, then the tenant's, then the TOML's.
    verify: Verify | None = None
    review_threshold: float | None = Field(default=None, ge=0, le=1)
    # realtime: live calls; batch: a provider's batch API (half price, within its window);
    # auto: batch unless the deadline is too near (tasks/engine/lanes.py).
    lane: LaneChoice = "realtime"
    deadline: AwareDatetime | None = Field(
        default=None, description="RFC 3339 with an offset (e.g. 2026-12-03T09:00:00Z)"
    )

    @field_validator("schema_name", "webhook_url")
    @classmethod
    def _storable_submission(cls, value: Any) -> Any:
        return storable(value)  # a 422 here, not a 500 from Postgres

    @field_validator("deadline", mode="before")
    @classmethod
    def _deadline_is_text(cls, value: Any) -> Any:
        if value is not None and not isinstance(value, str | dt.datetime):
            # pydantic would read a number as Unix seconds: RFC 3339 only, so no unit guessing
            raise ValueError("must be an RFC 3339 date-time with an offset")
        return value


class DocumentSource(BaseModel):
    """One document as a request carries it: exactly one of `text` or `content_base64`."""

    model_config = ConfigDict(extra="forbid")

    text: str | None = None
    content_base64: str | None = None
    filename: str | None = Field(default=None, max_length=512)
    metadata: dict[str, Any] = Field(default_factory=dict)

    @field_validator("filename", "metadata")
    @classmethod
    def _storable_source(cls, value: Any) -> Any:
        return storable(value)  # a 422 here, not a 500 from Postgres (text is cleaned instead)

    @model_validator(mode="after")
    def _one_source(self) -> Self:
        if (self.text is None) == (self.content_base64 is None):
            raise ValueError("give exactly one of `text` or `content_base64`")
        return self


class JobCreate(DocumentSource, Submission):
    """POST /v1/jobs body: exactly one of `text` or `content_base64`."""


class Usage(BaseModel):
    input_tokens: int
    output_tokens: int
    cost_usd: Decimal


class ErrorInfo(BaseModel):
    type: str
    message: str


class JobOut(BaseModel):
    """A job as GET /v1/jobs/{id} reports it."""

    id: uuid.UUID
    status: str
    tier: str
    tier_reason: str
    lane: str = "realtime"  # realtime | batch: the lane chosen at submission
    lane_reason: str = ""
    deadline: dt.datetime | None = None  # as the submission gave it (null: none)
    schema_name: str = Field(serialization_alias="schema")
    schema_version: str
    prompt_version: str
    # What made the result, exactly: the extractor version and its schema and prompt hashes.
    extractor_version_id: uuid.UUID | None = None
    schema_hash: str | None = None
    prompt_hash: str | None = None
    model: str | None
    attempts: int
    chunks: int | None
    cache_hit: bool
    result: dict[str, Any] | None  # the final values: corrected ones once a review corrected
    # Trust (README "Trust"): each leaf's evidence and confidence, the lowest confidence,
    # where the job stands in review, and the extraction as first written once corrected.
    fields: list[FieldOut] | None = None
    confidence: float | None = None
    review_state: str | None = None
    original_result: dict[str, Any] | None = None
    result_version: int = 1
    document_fit: DocumentFit | None = None
    warnings: list[str] = Field(default_factory=list)
    ocr_pages: list[int] | None = None  # the pages read by OCR (1-based)
    error: ErrorInfo | None
    usage: Usage
    metadata: dict[str, Any]
    filename: str | None
    batch_id: uuid.UUID | None
    created_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None


class JobPage(BaseModel):
    """One page of GET /v1/jobs."""

    items: list[JobOut]
    next_cursor: str | None


class SchemaOut(BaseModel):
    name: str
    version: str
    prompt_version: str
    description: str
    json_schema: dict[str, Any]


class ErrorBody(BaseModel):
    """Every 4xx/5xx answer: {"error": {"type", "message"}}."""

    error: ErrorInfo
