"""The outbox side of dispatch: pick fair work per tier, mark it published, recover strays.

Postgres is the source of truth: a job is published only from here, and a job whose
message was lost (Redis flush, crash between publish and commit) is picked again.
"""

from __future__ import annotations

import datetime as dt
import uuid
from itertools import zip_longest

from sqlalchemy import func, select, text, update
from sqlalchemy.orm import Session

from schemas.jobs import JobStatus
from storage.models import Job

_PICK = text(
    """
    WITH active AS (
        SELECT tenant_id, count(*) AS n FROM jobs
        WHERE tier = :tier AND status IN ('queued', 'running')
          AND (status = 'running' OR dispatched_at IS NOT NULL)
        GROUP BY tenant_id
    ), quota AS (
        SELECT t.id AS tenant_id, GREATEST(t.concurrency - COALESCE(a.n, 0), 0) AS free
        FROM tenants t LEFT JOIN active a ON a.tenant_id = t.id
    )
    SELECT x.id, x.tenant_id FROM quota q
    CROSS JOIN LATERAL (
        SELECT j.id, j.tenant_id, j.created_at FROM jobs j
        WHERE j.tier = :tier AND j.tenant_id = q.tenant_id
          AND j.status = 'queued' AND j.dispatched_at IS NULL
        ORDER BY j.created_at
        LIMIT LEAST(q.free, :limit)
        FOR UPDATE SKIP LOCKED
    ) x
    WHERE q.free > 0
    ORDER BY x.created_at
    """
)


def outstanding(*, session: Session, tier: str) -> int:
    """Jobs published to the tier's queue but not yet claimed by a worker."""
    return int(
        session.scalar(
            select(func.count())
            .select_from(Job)
            .where(Job.tier == tier, Job.status == JobStatus.QUEUED, Job.dispatched_at.isnot(None))
        )
        or 0
    )


def pick(*, session: Session, tier: str, limit: int) -> list[uuid.UUID]:
    """Lock up to `limit` undispatched jobs, round-robin across tenants within their caps."""
    if limit <= 0:
        return []
    rows = session.execute(_PICK, {"tier": tier, "limit": limit}).all()
    per_tenant: dict[uuid.UUID, list[uuid.UUID]] = {}
    for job_id, tenant_id in rows:
        per_tenant.setdefault(tenant_id, []).append(job_id)
    # Interleave tenants so a big tenant cannot fill the queue ahead of a small one.
    fair = [j for group in zip_longest(*per_tenant.values()) for j in group if j is not None]
    return fair[:limit]


def mark_dispatched(*, session: Session, job_ids: list[uuid.UUID]) -> None:
    """Record that these jobs' messages were published."""
    if job_ids:
        session.execute(update(Job).where(Job.id.in_(job_ids)).values(dispatched_at=func.now()))


def recover_stuck(
    *, session: Session, queued_after: dt.timedelta, running_grace: dt.timedelta
) -> tuple[list[tuple[uuid.UUID, str]], int]:
    """Re-dispatch queued jobs nobody claimed in time and running jobs whose lease expired.

    Returns ([(job_id, tier)] to publish again, requeued_running). A queued job nobody
    claimed keeps its place (dispatched_at is stamped anew) and the caller publishes the
    same id again: its first message may only be waiting behind a backlog or for a booting
    worker, and a duplicate is a no-op at claim, whereas freeing its place would let the
    scheduler publish other jobs of that tenant and overrun its per-tier concurrency.
    Recovery never finishes a job: it only makes it claimable again, and the attempt fence
    keeps stale writers out.
    """
    now = func.now()
    lost = session.execute(
        update(Job)
        .where(Job.status == JobStatus.QUEUED, Job.dispatched_at < now - queued_after)
        .values(dispatched_at=now)
        .returning(Job.id, Job.tier)
    ).all()
    dead = session.execute(
        update(Job)
        .where(Job.status == JobStatus.RUNNING, Job.lease_expires_at < now - running_grace)
        .values(status=JobStatus.QUEUED, dispatched_at=None, lease_expires_at=None, worker=None)
    ).rowcount  # type: ignore[attr-defined]
    return [(job_id, tier) for job_id, tier in lost], int(dead)
