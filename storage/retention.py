"""Retention: a tenant's finished jobs older than its retention period go, with what they hold.

A job goes with its results, evidence, reviews, ledger detail (folded into `usage_days`
first, so spend reports and monthly totals stay exact) and webhook deliveries; then each
document no job uses any more, and each batch of the tenant left with no job. Monthly
spend (`tenant_spend`) is never deleted. Jobs still in flight (a budget held, a request
in a provider batch) wait for a later pass.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from storage.ledger_rollup import delete_jobs, settled
from storage.models import Job

_EMPTY_BATCHES = text(
    """
    DELETE FROM batches b WHERE b.tenant_id = :t AND b.created_at < :cut
    AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.batch_id = b.id)
    AND NOT EXISTS (SELECT 1 FROM erasures e WHERE e.batch_id = b.id)
    """
)
_TENANTS = text(
    """
    SELECT id, COALESCE(retention_days, :default_days) FROM tenants
    WHERE COALESCE(retention_days, :default_days) IS NOT NULL
    """
)


@dataclass(frozen=True)
class Expired:
    """What one retention chunk deleted."""

    jobs: int
    documents: int
    batches: int


def tenants_with_retention(
    *, session: Session, default_days: int | None
) -> list[tuple[uuid.UUID, int]]:
    """(tenant, days) for every tenant whose data ages out (its own setting or the default)."""
    rows = session.execute(_TENANTS, {"default_days": default_days})
    return [(row[0], int(row[1])) for row in rows]


def expire_chunk(
    *, session: Session, tenant_id: uuid.UUID, older_than: dt.datetime, chunk: int = 2000
) -> Expired:
    """Delete up to `chunk` of the tenant's finished jobs created before `older_than`."""
    # ix_jobs_tenant_created serves the range. A job not settled yet, or one being reviewed
    # or read for update now (SKIP LOCKED), is taken at a later pass.
    expired = (
        select(Job.id, Job.document_sha256)
        .where(Job.tenant_id == tenant_id, Job.created_at < older_than, settled())
        .order_by(Job.created_at)
        .limit(chunk)
        .with_for_update(of=Job, skip_locked=True)
    )
    rows = [(row[0], row[1]) for row in session.execute(expired)]
    documents = delete_jobs(session=session, rows=rows)
    batches = session.execute(_EMPTY_BATCHES, {"t": tenant_id, "cut": older_than}).rowcount  # type: ignore[attr-defined]
    return Expired(jobs=len(rows), documents=documents, batches=int(batches))
