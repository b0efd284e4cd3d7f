"""Request and response models of the review routes (/v1/review, /v1/jobs/{id}/review, settings)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from schemas.api import storable
from schemas.trust.config import OnMismatch
from schemas.trust.envelope import DocumentFit
from schemas.trust.fields import FieldOut

MAX_CORRECTIONS = 1000


class ReviewItem(BaseModel):
    """One job waiting for review: its result, each field's evidence, and where it came from."""

    job_id: uuid.UUID
    batch_id: uuid.UUID | None
    extractor: str = Field(description="the extractor (schema) name")
    version: str = Field(description="the extractor version that made the result")
    extractor_version_id: uuid.UUID | None
    filename: str | None
    confidence: float | None = Field(description="the lowest field's confidence")
    result: dict[str, Any] | None
    fields: list[FieldOut] = Field(description="each leaf of `result` with its evidence")
    document_fit: DocumentFit | None
    result_version: int
    created_at: dt.datetime


class ReviewPage(BaseModel):
    """One page of GET /v1/review, oldest first."""

    items: list[ReviewItem]
    next_cursor: str | None = Field(description="pass as `cursor` for the next page; null: last")
    pending: int = Field(description="jobs waiting for review under these filters, in all")


class ReviewRequest(BaseModel):
    """POST /v1/jobs/{id}/review: correct some fields, or approve the result as it is."""

    model_config = ConfigDict(extra="forbid")

    corrections: dict[str, Any] = Field(
        default_factory=dict,
        max_length=MAX_CORRECTIONS,
        description="JSON Pointer into `result` -> the right value. A pointer names an "
        "existing leaf, an existing list item, or a key of an existing object.",
    )
    approve: bool = Field(
        default=False, description="true with no corrections: the result is right as it is"
    )

    @field_validator("corrections")
    @classmethod
    def _storable_corrections(cls, value: Any) -> Any:
        return storable(value)  # a 422 here, not a 500 from Postgres

    @model_validator(mode="after")
    def _something(self) -> Self:
        if not self.corrections and not self.approve:
            raise ValueError("give `corrections`, or `approve: true` to accept the result")
        return self


class ReviewOut(BaseModel):
    """One review of a job, as the audit trail keeps it (never rewritten)."""

    id: int
    job_id: uuid.UUID
    reviewer: str = Field(description="the reviewing API key's prefix")
    action: Literal["approved", "corrected"]
    version: int = Field(description="the result_version this review wrote")
    corrections: dict[str, Any] = Field(description="pointer -> {before, after}")
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    created_at: dt.datetime


class ReviewList(BaseModel):
    """GET /v1/jobs/{id}/reviews, oldest first."""

    data: list[ReviewOut]


class LabelItem(BaseModel):
    """A reviewed job's final result, for eval sets (`docqueue review export`)."""

    job_id: uuid.UUID
    batch_id: uuid.UUID | None
    idempotency_key: str | None = Field(
        description="as stored: the Idempotency-Key of a single job, `doc:<key>` in a batch"
    )
    key: str | None = Field(description="the batch document's `key` (null outside batches)")
    filename: str | None
    extractor: str
    version: str
    extractor_version_id: uuid.UUID | None
    review_state: Literal["approved", "corrected"]
    result: dict[str, Any] | None = Field(description="the final, reviewed values")
    original_result: dict[str, Any] | None = Field(
        description="what the extraction said, when a review corrected it"
    )
    result_version: int
    reviewed_at: dt.datetime | None = Field(description="when the last review was made")


class LabelPage(BaseModel):
    """One page of GET /v1/review/labels, oldest job first."""

    items: list[LabelItem]
    next_cursor: str | None = Field(description="pass as `cursor` for the next page; null: last")


class TenantSettingsPatch(BaseModel):
    """PATCH /v1/settings: the fields given change (null: back to the default)."""

    model_config = ConfigDict(extra="forbid")

    review_threshold: float | None = Field(default=None, ge=0, le=1)
    on_mismatch: OnMismatch | None = None
    retention_days: int | None = Field(default=None, ge=1, le=36500)


class TrustDefaults(BaseModel):
    """The server's defaults (the TOML's [trust]) where a tenant sets nothing."""

    review_threshold: float
    on_mismatch: OnMismatch
    retention_days: int | None = Field(description="the TOML's [retention]; null: kept forever")


class TenantSettingsOut(BaseModel):
    """GET /v1/settings: the calling tenant's own settings (null: the default applies)."""

    review_threshold: float | None = Field(
        description="a job with a field below this confidence goes to review"
    )
    on_mismatch: OnMismatch | None = Field(
        description="a document the schema does not describe: fail the job, or send it to review"
    )
    retention_days: int | None = Field(
        description="finished jobs, results and ledger detail older than this many days are "
        "deleted (monthly spend stays)"
    )
    defaults: TrustDefaults
