"""Job verbs: read, claim, renew, finish (fenced), release, retry, find a reusable one.

Creating jobs (NewJob, create_job) is storage.job_rows, the claim storage.claims, the
finish storage.finishes: all re-exported here.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import Exists, delete, func, select, update
from sqlalchemy.orm import Session

from schemas.jobs import JobStatus
from storage.claims import claim, claim_with_text
from storage.db import notify_jobs
from storage.errors import InvalidState
from storage.finishes import Finished, finish, landed, usage_totals
from storage.job_rows import NewJob, create_job
from storage.job_rows import get_by_id as _get
from storage.lane_models import LaneExchange, LaneItem
from storage.models import Job
from storage.rows import moving, owned

# Callers keep importing these from here (see the module docstring).
__all__ = [
    "REQUEUED",
    "RETRYABLE",
    "Finished",
    "NewJob",
    "claim",
    "claim_with_text",
    "create_job",
    "find_reusable",
    "finish",
    "forget_tapes",
    "get_job",
    "landed",
    "load_job",
    "release",
    "renew_lease",
    "retry",
    "usage_totals",
]

RETRYABLE = (JobStatus.FAILED, JobStatus.CANCELLED)  # what an explicit retry requeues
# What a retried job is set back to: queued, no error, not finished, not yet dispatched.
REQUEUED: dict[str, Any] = {
    "status": JobStatus.QUEUED,
    "error_type": None,
    "error_message": None,
    "finished_at": None,
    "dispatched_at": None,
    "parked_at": None,
    # the last attempt's verdicts go with its result (ocr_pages stays: it marks a scan)
    "evidence": None,
    "confidence": None,
    "review_state": None,
    "document_fit": None,
    "warnings": [],
}


def get_job(*, session: Session, tenant_id: uuid.UUID, job_id: uuid.UUID) -> Job:
    """A tenant's job; another tenant's id is NotFound."""
    return owned(session=session, model=Job, tenant_id=tenant_id, ident=job_id, what="job")


def load_job(*, session: Session, job_id: uuid.UUID) -> Job | None:
    """A job by id, for workers (no tenant scope)."""
    return session.get(Job, job_id, populate_existing=True)


def renew_lease(*, session: Session, job_id: uuid.UUID, attempt: int, lease_s: float) -> bool:
    """Extend the lease of the running attempt; False if the attempt was fenced out."""
    result = session.execute(
        update(Job)
        .where(Job.id == job_id, Job.attempts == attempt, Job.status == JobStatus.RUNNING)
        .values(lease_expires_at=func.now() + dt.timedelta(seconds=lease_s))
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def release(*, session: Session, job_id: uuid.UUID, attempt: int) -> bool:
    """Hand a running attempt back to the queue (shutdown, kill switch); fenced."""
    updated = session.execute(
        update(Job)
        .where(
            Job.id == job_id,
            Job.attempts == attempt,
            moving(from_=(JobStatus.RUNNING,), to=JobStatus.QUEUED),
        )
        .values(status=JobStatus.QUEUED, lease_expires_at=None, dispatched_at=None, worker=None)
    )
    notify_jobs(session=session)
    return bool(updated.rowcount)  # type: ignore[attr-defined]


def retry(*, session: Session, tenant_id: uuid.UUID, job_id: uuid.UUID) -> Job:
    """Requeue a failed or cancelled job."""
    job = get_job(session=session, tenant_id=tenant_id, job_id=job_id)
    if job.status not in RETRYABLE:
        raise InvalidState(f"job {job_id} is {job.status}; only failed or cancelled jobs retry")
    if job.document_sha256 is None:  # its upload never became text: a retry extracts nothing
        raise InvalidState(
            f"job {job_id} has no stored document text ({job.error_type}); submit it again"
        )
    if session.scalar(select(open_items(job_id))):
        raise InvalidState(
            f"job {job_id} still has a request in a provider batch; retry once it has returned"
        )
    session.execute(
        update(Job)
        .where(Job.id == job_id, moving(from_=RETRYABLE, to=JobStatus.QUEUED))
        .values(**REQUEUED)
    )
    forget_tapes(session=session, job_ids=[job_id])
    notify_jobs(session=session)
    return _get(session, job_id)


def find_reusable(
    *,
    session: Session,
    tenant_id: uuid.UUID,
    document_sha256: str,
    schema_name: str,
    schema_version: str,
    prompt_version: str,
    model: str,
    schema_hash: str | None = None,
) -> Job | None:
    """An earlier succeeded job of this tenant whose result a `reuse` job may copy."""
    return session.scalar(
        select(Job)
        .where(
            Job.tenant_id == tenant_id,
            Job.document_sha256 == document_sha256,
            Job.schema_name == schema_name,
            Job.schema_version == schema_version,
            Job.prompt_version == prompt_version,
            Job.schema_hash.is_not_distinct_from(schema_hash),
            Job.model == model,
            Job.status == JobStatus.SUCCEEDED,
            Job.result.isnot(None),
        )
        .order_by(Job.finished_at.desc())
        .limit(1)
    )


def open_items(job_id: Any) -> Exists:
    """EXISTS: a request of the job waits in (or for) a provider batch."""
    return (
        select(LaneItem.id)
        .where(LaneItem.job_id == job_id, LaneItem.state.in_(("parked", "packed")))
        .exists()
    )


def forget_tapes(*, session: Session, job_ids: list[uuid.UUID]) -> None:
    """Drop retried jobs' batch-lane answers: a retry extracts afresh (they stay billed).

    Their lost requests go too (never billed, nothing to keep), so a retry gets the full
    `max_resubmits` again instead of inheriting the first run's count.
    """
    session.execute(delete(LaneExchange).where(LaneExchange.job_id.in_(job_ids)))
    session.execute(
        delete(LaneItem).where(
            LaneItem.job_id.in_(job_ids), LaneItem.state.in_(("expired", "cancelled", "lost"))
        )
    )
