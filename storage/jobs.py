"""Job verbs: read, claim, renew, finish (fenced), release, retry, find a reusable one.

Creating jobs (NewJob, create_job) is storage.job_rows, re-exported here.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import Exists, delete, func, select, update
from sqlalchemy.orm import Session

from schemas.jobs import JobStatus
from storage.db import notify_jobs
from storage.errors import InvalidState
from storage.job_rows import NewJob, create_job
from storage.job_rows import get_by_id as _get
from storage.lane_models import LaneExchange, LaneItem
from storage.ledger import IN_FLIGHT
from storage.models import Job, LlmCall
from storage.rows import moving, owned

# NewJob and create_job live in storage.job_rows; callers keep importing them from here.
__all__ = [
    "REQUEUED",
    "RETRYABLE",
    "NewJob",
    "claim",
    "create_job",
    "find_reusable",
    "finish",
    "forget_tapes",
    "get_job",
    "load_job",
    "release",
    "renew_lease",
    "retry",
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


def claim(*, session: Session, job_id: uuid.UUID, worker: str, lease_s: float) -> Job | None:
    """Atomically move a queued job (or a running one whose lease expired) to running.

    Returns None when another worker holds it or it is finished: a duplicate delivery is a
    no-op. The incremented `attempts` is the fence every later write must present.
    """
    now = func.now()
    lease = now + dt.timedelta(seconds=lease_s)
    # RETURNING the whole row: one statement, no second SELECT to load the claimed job.
    return session.scalars(
        update(Job)
        .where(
            Job.id == job_id,
            # a parked job waits on a provider batch: a stale message must not run it again
            (moving(from_=(JobStatus.QUEUED,), to=JobStatus.RUNNING) & Job.parked_at.is_(None))
            | (
                moving(from_=(JobStatus.RUNNING,), to=JobStatus.RUNNING)
                & (Job.lease_expires_at < now)
            ),
        )
        .values(
            status=JobStatus.RUNNING,
            attempts=Job.attempts + 1,
            worker=worker,
            started_at=func.coalesce(Job.started_at, now),
            lease_expires_at=lease,
        )
        .returning(Job),
        execution_options={"populate_existing": True},
    ).one_or_none()


def renew_lease(*, session: Session, job_id: uuid.UUID, attempt: int, lease_s: float) -> bool:
    """Extend the lease of the running attempt; False if the attempt was fenced out."""
    result = session.execute(
        update(Job)
        .where(Job.id == job_id, Job.attempts == attempt, Job.status == JobStatus.RUNNING)
        .values(lease_expires_at=func.now() + dt.timedelta(seconds=lease_s))
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def usage_totals(job_id: Any, *, billed_only: bool = False) -> dict[str, Any]:
    """The job's ledger sums as subqueries of an UPDATE of it (no separate round trip).

    `billed_only` leaves out rows still in flight (a request out in a provider batch: its
    row carries the reserved worst case until the answer arrives).
    """

    def total(column: Any) -> Any:
        query = select(func.coalesce(func.sum(column), 0)).where(LlmCall.job_id == job_id)
        if billed_only:
            query = query.where(LlmCall.outcome != IN_FLIGHT)
        return query.scalar_subquery()

    return {
        "input_tokens": total(LlmCall.input_tokens),
        "output_tokens": total(LlmCall.output_tokens),
        "cost_usd": total(LlmCall.cost_usd),
    }


def finish(
    *,
    session: Session,
    job_id: uuid.UUID,
    attempt: int,
    status: JobStatus,
    result: dict[str, Any] | None = None,
    model: str | None = None,
    chunks: int | None = None,
    cache_hit: bool = False,
    error_type: str | None = None,
    error_message: str | None = None,
    trust: dict[str, Any] | None = None,
) -> bool:
    """Write the outcome of `attempt`, fenced: a stale attempt writes nothing (returns False).

    Usage is summed from the ledger, so every billed call (re-asks, failed attempts) counts.
    `trust` holds the trust columns (evidence, confidence, review_state, document_fit,
    warnings, ocr_pages) when the worker assessed the result.
    """
    values: dict[str, Any] = {
        **(trust or {}),
        "status": status,
        "result": result,
        "chunks": chunks,
        "cache_hit": cache_hit,
        "error_type": error_type,
        "error_message": error_message,
        "finished_at": func.now(),
        "lease_expires_at": None,
        **usage_totals(job_id),
    }
    if model is not None:
        values["model"] = model
    updated = session.execute(
        update(Job)
        .where(
            Job.id == job_id,
            Job.attempts == attempt,
            moving(from_=(JobStatus.RUNNING,), to=status),
        )
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    notify_jobs(session=session)  # a slot freed: wake the scheduler
    return bool(updated.rowcount)  # type: ignore[attr-defined]


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
