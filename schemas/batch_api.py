"""Request and response models of the batch API (/v1/batches)."""

from __future__ import annotations

import datetime as dt
import uuid
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field, field_validator

from schemas.api import DocumentSource, ErrorInfo, Submission, Usage, storable

KEY_PREFIX = "doc:"  # a document key is stored as the job's idempotency key with this prefix
MAX_KEY_CHARS = 250  # idempotency_key is VARCHAR(255)
# Bodies of these types are NDJSON uploads: read line by line, each line size-checked.
NDJSON_TYPES = frozenset(
    {"application/x-ndjson", "application/ndjson", "application/jsonl", "application/json-lines"}
)


def media_type(content_type: str) -> str:
    """The media type of a Content-Type header value, lowercased, without parameters."""
    return content_type.partition(";")[0].strip().lower()


class BatchDocument(DocumentSource):
    """One document of a batch: exactly one of `text` or `content_base64`."""

    key: str | None = Field(default=None, min_length=1, max_length=MAX_KEY_CHARS)

    @field_validator("key")
    @classmethod
    def _storable_key(cls, value: Any) -> Any:
        return storable(value)  # stored as the job's idempotency key


class BatchHeader(Submission):
    """What every document of a batch shares (the first line of an NDJSON upload)."""


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
    complete: bool = Field(
        default=True,
        description="false when an NDJSON upload stopped part-way: the counts above are what "
        "was stored, and nothing from `stopped_at_line` on was",
    )
    stopped_at_line: int | None = Field(
        default=None, description="the first line not stored, when `complete` is false"
    )
    error: ErrorInfo | None = Field(default=None, description="why the upload stopped")


class BatchStatus(StrEnum):
    """A batch's state, derived from its jobs in this order (the first that holds wins).

    cancelled: the batch was cancelled (its running jobs may still finish);
    finished: no job is queued or running (`finished_at` is set; a batch of only duplicates);
    running: some job is running or already ended; queued: every job is still queued.
    """

    QUEUED = "queued"
    RUNNING = "running"
    FINISHED = "finished"
    CANCELLED = "cancelled"


class KillSwitchOut(BaseModel):
    """The global kill switch: while on, no new provider call starts (jobs wait, queued)."""

    on: bool
    reason: str | None = Field(description="why it was turned on (null while off)")
    since: dt.datetime | None = Field(description="when it was turned on (null while off)")


class BatchOut(BaseModel):
    """A batch's progress as GET /v1/batches/{id} (and each item of GET /v1/batches) reports it."""

    id: uuid.UUID
    schema_name: str = Field(serialization_alias="schema")
    tier: str
    lane: str = Field(default="realtime", description="the lane asked for: realtime, batch, auto")
    status: BatchStatus = Field(
        description="cancelled if cancelled; finished once no job is queued or running; "
        "running once any job has started; else queued"
    )
    total: int
    counts: dict[str, int] = Field(description="jobs per status, all five statuses")
    review: dict[str, int] = Field(
        default_factory=dict,
        description="succeeded jobs per review state: pending, approved, corrected, not_needed",
    )
    progress: float = Field(description="terminal jobs / total")
    usage: Usage
    created_at: dt.datetime
    cancelled_at: dt.datetime | None
    finished_at: dt.datetime | None = Field(description="set once every job is terminal")
    killswitch: KillSwitchOut | None = Field(
        description="the global kill switch as this answer read it; null if unreadable"
    )


class BatchPage(BaseModel):
    """One page of GET /v1/batches, newest first."""

    data: list[BatchOut]
    next_cursor: str | None = Field(description="pass as `cursor` for the next page; null: last")
