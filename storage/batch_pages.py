"""Keyset pages of a tenant's batches, newest first, filtered by derived status and time."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import ColumnElement, and_, exists, not_, select, tuple_
from sqlalchemy.orm import Session

from schemas.jobs import JobStatus
from storage.models import Batch, Job
from storage.rows import Cursor

STATUSES = ("queued", "running", "finished", "cancelled")
_NEWEST_FIRST = (Batch.created_at.desc(), Batch.id.desc())


@dataclass(frozen=True)
class BatchPage:
    """Up to `limit` batches, and the cursor of the next page (None on the last one)."""

    batches: Sequence[Batch]
    next_cursor: Cursor | None


def _jobs(*where: ColumnElement[bool]) -> ColumnElement[bool]:
    """EXISTS a job of the outer batch matching `where` (ix_jobs_batch_status serves it)."""
    return exists(select(Job.id).where(Job.batch_id == Batch.id, *where))


def status_is(status: str) -> ColumnElement[bool]:
    """The SQL twin of storage.batches.status_of: batches whose derived status is `status`."""
    active = _jobs(Job.status.in_((JobStatus.QUEUED, JobStatus.RUNNING)))
    # IN, not `!= queued`: an index seek per status, not a walk over a million queued rows.
    started = _jobs(Job.status.in_([s for s in JobStatus if s is not JobStatus.QUEUED]))
    live = Batch.cancelled_at.is_(None)
    if status == "cancelled":
        return Batch.cancelled_at.isnot(None)
    if status == "finished":
        return and_(live, not_(active))
    if status == "running":
        return and_(live, active, started)
    if status == "queued":
        return and_(live, active, not_(started))
    raise ValueError(f"unknown batch status {status!r}")


def list_batches(
    *,
    session: Session,
    tenant_id: uuid.UUID,
    limit: int,
    status: str | None = None,
    created_after: dt.datetime | None = None,
    created_before: dt.datetime | None = None,
    before: Cursor | None = None,
) -> BatchPage:
    """The tenant's batches older than the cursor `before`, newest first (bounds exclusive)."""
    stmt = select(Batch).where(Batch.tenant_id == tenant_id)
    if status is not None:
        stmt = stmt.where(status_is(status))
    if created_after is not None:
        stmt = stmt.where(Batch.created_at > created_after)
    if created_before is not None:
        stmt = stmt.where(Batch.created_at < created_before)
    if before is not None:
        # a row comparison, as in storage.rows.jobs_after: batches can share a created_at
        stmt = stmt.where(tuple_(Batch.created_at, Batch.id) < tuple_(*before))
    # (tenant_id, created_at, id) read backwards: ix_batches_tenant_created
    rows = session.scalars(stmt.order_by(*_NEWEST_FIRST).limit(limit + 1)).all()
    page = rows[:limit]
    last = page[-1] if len(rows) > limit and page else None
    return BatchPage(page, (last.created_at, last.id) if last else None)
