"""Keyset pages of jobs in (created_at, id) order: a tenant's listing and a batch's results."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.models import Batch, Job
from storage.rows import KEYSET_ORDER, Cursor, jobs_after


@dataclass(frozen=True)
class JobPage:
    """Up to `limit` jobs, and the cursor of the next page (None on the last one)."""

    jobs: Sequence[Job]
    next_cursor: Cursor | None


def list_jobs(
    *,
    session: Session,
    tenant_id: uuid.UUID,
    limit: int,
    batch_id: uuid.UUID | None = None,
    status: str | None = None,
    after: Cursor | None = None,
) -> JobPage:
    """The tenant's jobs (of one batch, in one status) after `after`, oldest first."""
    stmt = select(Job).where(Job.tenant_id == tenant_id)
    if batch_id is not None:
        stmt = stmt.where(Job.batch_id == batch_id)
    if status is not None:
        stmt = stmt.where(Job.status == status)
    if after is not None:
        stmt = stmt.where(jobs_after(after))
    rows = session.scalars(stmt.order_by(*KEYSET_ORDER).limit(limit + 1)).all()
    page = rows[:limit]
    last = page[-1] if len(rows) > limit and page else None
    return JobPage(page, (last.created_at, last.id) if last else None)


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
    created_at: dt.datetime

    @property
    def cursor(self) -> Cursor:
        """The keyset cursor that pages past this job."""
        return self.created_at, self.id


def result_page(
    *, session: Session, batch: Batch, after: Cursor | None, limit: int
) -> list[JobResult]:
    """The next `limit` jobs of the batch in (created_at, id) order, after a keyset cursor.

    A batch's jobs are created no earlier than the batch, which bounds the scan of the
    tenant's (tenant_id, created_at, id) index; Postgres still sorts what is left of the
    batch per page (an index on (batch_id, created_at, id) would make a page O(page)).
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
        Job.created_at,
    ).where(Job.tenant_id == batch.tenant_id, Job.batch_id == batch.id)
    if after is None:
        stmt = stmt.where(Job.created_at >= batch.created_at)
    else:
        stmt = stmt.where(jobs_after(after))
    return [JobResult(*row) for row in session.execute(stmt.order_by(*KEYSET_ORDER).limit(limit))]
