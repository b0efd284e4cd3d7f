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

from sqlalchemy import text
from sqlalchemy.orm import Session

from storage.ledger_rollup import delete_unused_documents, fold_calls

# ix_jobs_tenant_created serves the range; SKIP LOCKED: a job being reviewed or read for
# update now is taken at the next pass.
_EXPIRED = text(
    """
    SELECT j.id, j.document_sha256 FROM jobs j
    WHERE j.tenant_id = :t AND j.created_at < :cut
      AND j.status IN ('succeeded', 'failed', 'cancelled')
      AND NOT EXISTS (
        SELECT 1 FROM budget_reservations r WHERE r.job_id = j.id AND r.settled_at IS NULL)
      AND NOT EXISTS (
        SELECT 1 FROM lane_items i WHERE i.job_id = j.id AND i.state = 'packed')
    ORDER BY j.created_at LIMIT :n
    FOR UPDATE OF j SKIP LOCKED
    """
)
_DELETE_JOBS = text("DELETE FROM jobs WHERE id = ANY(:ids)")  # the rest cascades
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
    rows = session.execute(_EXPIRED, {"t": tenant_id, "cut": older_than, "n": chunk}).all()
    ids = [row[0] for row in rows]
    documents = 0
    if ids:
        fold_calls(session=session, job_ids=ids)
        session.execute(_DELETE_JOBS, {"ids": ids})
        shas = sorted({row[1] for row in rows if row[1] is not None})
        documents = delete_unused_documents(session=session, shas=shas)
    batches = session.execute(_EMPTY_BATCHES, {"t": tenant_id, "cut": older_than}).rowcount  # type: ignore[attr-defined]
    return Expired(jobs=len(ids), documents=documents, batches=int(batches))
