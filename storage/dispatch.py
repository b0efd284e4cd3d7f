"""The outbox side of dispatch: count and mark what was published, recover strays.

The pick itself, fair work per tier, is in storage/picks.py.

Postgres is the source of truth: a job is published only from here, and a job whose
message was lost (Redis flush, crash between publish and commit) is picked again.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from schemas.jobs import JobStatus
from storage.models import Job


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


def mark_dispatched(*, session: Session, job_ids: list[uuid.UUID]) -> None:
    """Record that these jobs' messages were published."""
    if job_ids:
        session.execute(update(Job).where(Job.id.in_(job_ids)).values(dispatched_at=func.now()))


def recover_stuck(
    *, session: Session, queued_after: dt.timedelta, running_grace: dt.timedelta
) -> tuple[list[tuple[uuid.UUID, str]], list[uuid.UUID]]:
    """Re-dispatch queued jobs nobody claimed in time and running jobs whose lease expired.

    Returns ([(job_id, tier)] to publish again, [requeued running job ids]). A queued job nobody
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
    dead = session.scalars(
        update(Job)
        .where(Job.status == JobStatus.RUNNING, Job.lease_expires_at < now - running_grace)
        .values(**_REQUEUED)
        .returning(Job.id)
    ).all()
    return [(job_id, tier) for job_id, tier in lost], list(dead)


# A running job given back to the queue: the pick publishes it again, and its next claim
# increments `attempts`, which fences out anything the old attempt still tries to write.
_REQUEUED = {
    "status": JobStatus.QUEUED,
    "dispatched_at": None,
    "lease_expires_at": None,
    "worker": None,
}


@dataclass(frozen=True)
class Holding:
    """A running job as the reconciler sees it: who holds it, which attempt, until when."""

    job_id: uuid.UUID
    worker: str
    attempt: int
    lease_expires_at: dt.datetime | None


def running_holdings(*, session: Session) -> list[Holding]:
    """Every running job with the worker that claimed it."""
    rows = session.execute(
        select(Job.id, Job.worker, Job.attempts, Job.lease_expires_at).where(
            Job.status == JobStatus.RUNNING, Job.worker.isnot(None)
        )
    ).all()
    return [
        Holding(job_id, str(worker), int(attempt), lease) for job_id, worker, attempt, lease in rows
    ]


def requeue_abandoned(*, session: Session, holdings: Sequence[Holding]) -> list[uuid.UUID]:
    """Requeue these attempts of a dead worker, each only if untouched since it was observed.

    Fenced by worker, attempt and lease: an attempt that renewed its lease in the meantime
    (its worker is alive after all) or that finished or was handed back stays as it is.
    """
    requeued: list[uuid.UUID] = []
    for held in holdings:
        lease = (
            Job.lease_expires_at.is_(None)
            if held.lease_expires_at is None
            else Job.lease_expires_at == held.lease_expires_at
        )
        job_id = session.scalar(
            update(Job)
            .where(
                Job.id == held.job_id,
                Job.status == JobStatus.RUNNING,
                Job.attempts == held.attempt,
                Job.worker == held.worker,
                lease,
            )
            .values(**_REQUEUED)
            .returning(Job.id)
        )
        if job_id is not None:
            requeued.append(job_id)
    return requeued


def republish_dispatched(
    *, session: Session, before: dt.datetime | None = None
) -> list[tuple[uuid.UUID, str]]:
    """Every published, unclaimed job (dispatched before `before`), stamped dispatched anew.

    After Redis lost its data these jobs still count against their tenants' caps, and
    waiting `stuck_queued_s` for each would stall the tenant; a duplicate is a no-op at claim.
    """
    when = Job.dispatched_at.isnot(None) if before is None else Job.dispatched_at < before
    rows = session.execute(
        update(Job)
        .where(Job.status == JobStatus.QUEUED, when)
        .values(dispatched_at=func.now())
        .returning(Job.id, Job.tier)
    ).all()
    return [(job_id, tier) for job_id, tier in rows]
