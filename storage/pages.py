"""Keyset pages of a tenant's jobs in (created_at, id) order."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.models import Job
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
