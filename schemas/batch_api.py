"""Request and response models of the batch API (/v1/batches)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from schemas.api import TierChoice, Usage

KEY_PREFIX = "doc:"  # a document key is stored as the job's idempotency key with this prefix
MAX_KEY_CHARS = 250  # idempotency_key is VARCHAR(255)


class BatchDocument(BaseModel):
    """One document of a batch: exactly one of `text` or `content_base64`."""

    model_config = ConfigDict(extra="forbid")

    text: str | None = None
    content_base64: str | None = None
    filename: str | None = Field(default=None, max_length=512)
    key: str | None = Field(default=None, min_length=1, max_length=MAX_KEY_CHARS)
    metadata: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _one_source(self) -> BatchDocument:
        if (self.text is None) == (self.content_base64 is None):
            raise ValueError("give exactly one of `text` or `content_base64`")
        return self


class BatchHeader(BaseModel):
    """What every document of a batch shares (the first line of an NDJSON upload)."""

    model_config = ConfigDict(populate_by_name=True, extra="forbid")

    schema_name: str = Field(alias="schema", min_length=1, max_length=64)
    tier: TierChoice = "auto"
    webhook_url: str | None = Field(default=None, max_length=2048)
    reuse: bool = False


class BatchCreate(BatchHeader):
    """POST /v1/batches JSON body."""

    documents: list[BatchDocument] = Field(min_length=1)


class RejectedLine(BaseModel):
    """An NDJSON line that was not a valid document (nothing was stored for it)."""

    line: int
    message: str


class BatchAccepted(BaseModel):
    """The answer to POST /v1/batches."""

    id: uuid.UUID
    total: int = Field(description="jobs in the batch, after this request")
    created: int = Field(description="jobs this request created")
    duplicates: int = Field(description="documents whose key already had a job (none created)")
    duplicate_batches: list[uuid.UUID] = Field(
        default_factory=list, description="other batches holding those jobs (and their results)"
    )
    rejected: int = Field(default=0, description="NDJSON lines that were not documents")
    rejected_lines: list[RejectedLine] = Field(
        default_factory=list, description="the first rejected lines, with the reason"
    )


class BatchOut(BaseModel):
    """A batch's progress as GET /v1/batches/{id} reports it."""

    id: uuid.UUID
    schema_name: str = Field(serialization_alias="schema")
    tier: str
    total: int
    counts: dict[str, int] = Field(description="jobs per status, all five statuses")
    progress: float = Field(description="terminal jobs / total")
    usage: Usage
    created_at: dt.datetime
    cancelled_at: dt.datetime | None
    finished_at: dt.datetime | None = Field(description="set once every job is terminal")
