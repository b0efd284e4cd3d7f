"""A batch's results in (created_at, id) keyset pages: what GET /v1/batches/{id}/results streams."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.models import Batch, Job
from storage.rows import KEYSET_ORDER, Cursor, jobs_after


@dataclass(frozen=True, slots=True)
class JobResult:
    """One job of GET /v1/batches/{id}/results: what its NDJSON line shows."""

    id: uuid.UUID
    idempotency_key: str | None
    filename: str | None
    status: str
    result: dict[str, Any] | None
    error_type: str | None
    error_message: str | None
    meta: dict[str, Any]
    input_tokens: int
    output_tokens: int
    cost_usd: Decimal
    tier: str
    model: str | None  # the model whose answer is the result (None without one)
    created_at: dt.datetime
    review_state: str | None = None
    confidence: float | None = None
    original_result: dict[str, Any] | None = None  # set once a review corrected the result
    result_version: int = 1
    lane: str = "realtime"
    lane_reason: str = ""
    deadline: dt.datetime | None = None

    @property
    def cursor(self) -> Cursor:
        """The keyset cursor that pages past this job."""
        return self.created_at, self.id


def result_page(
    *, session: Session, batch: Batch, after: Cursor | None, limit: int
) -> list[JobResult]:
    """The next `limit` jobs of the batch in (created_at, id) order, after a keyset cursor.

    ix_jobs_batch_created (batch_id, created_at, id) makes each page O(page); a batch's jobs
    are created no earlier than the batch, which bounds the first page's scan.
    """
    stmt = select(
        Job.id,
        Job.idempotency_key,
        Job.filename,
        Job.status,
        Job.result,
        Job.error_type,
        Job.error_message,
        Job.meta,
        Job.input_tokens,
        Job.output_tokens,
        Job.cost_usd,
        Job.tier,
        Job.model,
        Job.created_at,
        Job.review_state,
        Job.confidence,
        Job.original_result,
        Job.result_version,
        Job.lane,
        Job.lane_reason,
        Job.deadline,
    ).where(Job.tenant_id == batch.tenant_id, Job.batch_id == batch.id)
    if after is None:
        stmt = stmt.where(Job.created_at >= batch.created_at)
    else:
        stmt = stmt.where(jobs_after(after))
    return [JobResult(*row) for row in session.execute(stmt.order_by(*KEYSET_ORDER).limit(limit))]
