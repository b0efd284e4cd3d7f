"""The claim of a job by a worker: one fenced UPDATE, optionally returning its document text.

storage.jobs re-exports both verbs; callers import them from there.
"""

from __future__ import annotations

import datetime as dt
import functools
import uuid
from typing import Any

from sqlalchemy import Interval, Update, bindparam, func, select, update
from sqlalchemy.orm import Session

from schemas.jobs import JobStatus
from storage.errors import NotFound
from storage.models import Document, Job
from storage.rows import moving


@functools.cache
def _claiming() -> Update:
    """The UPDATE that moves a queued (or lease-expired running) job to running, built once.

    Its values are bound parameters (`job_id`, `worker`, `lease`): built anew per job it
    cost more CPU than the rest of the claim. No session synchronisation: the caller reads
    the RETURNING row (with populate_existing), so evaluating the WHERE in Python is waste.
    """
    now = func.now()
    table = Job.__table__
    return (
        update(Job)
        .where(
            Job.id == bindparam("job_id", type_=table.c.id.type),
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
            worker=bindparam("worker", type_=table.c.worker.type),
            started_at=func.coalesce(Job.started_at, now),
            lease_expires_at=now + bindparam("lease", type_=Interval()),
        )
        .execution_options(synchronize_session=False)
    )


def _params(job_id: uuid.UUID, worker: str, lease_s: float) -> dict[str, Any]:
    return {"job_id": job_id, "worker": worker, "lease": dt.timedelta(seconds=lease_s)}


def claim(*, session: Session, job_id: uuid.UUID, worker: str, lease_s: float) -> Job | None:
    """Atomically move a queued job (or a running one whose lease expired) to running.

    Returns None when another worker holds it or it is finished: a duplicate delivery is a
    no-op. The incremented `attempts` is the fence every later write must present.
    """
    # RETURNING the whole row: one statement, no second SELECT to load the claimed job.
    return session.scalars(
        _claiming().returning(Job),
        _params(job_id, worker, lease_s),
        execution_options={"populate_existing": True},
    ).one_or_none()


@functools.cache
def _claiming_with_text() -> Update:
    """The claim RETURNING the job and its document's text, built once."""
    text_ = (
        select(Document.text)
        .where(Document.sha256 == Job.document_sha256)
        .correlate(Job)
        .scalar_subquery()
    )
    return _claiming().returning(Job, text_)


def claim_with_text(
    *, session: Session, job_id: uuid.UUID, worker: str, lease_s: float
) -> tuple[Job, str] | None:
    """`claim`, returning the claimed job with its document text in the same statement.

    A job without a document reads as "" (as the worker always treated it); a hash whose
    document is missing is NotFound, as storage.documents.get_document_text says.
    """
    row: Any = session.execute(
        _claiming_with_text(),
        _params(job_id, worker, lease_s),
        execution_options={"populate_existing": True},
    ).one_or_none()
    if row is None:
        return None
    job, found = row
    if job.document_sha256 is None:
        return job, ""
    if found is None:
        raise NotFound("document", job.document_sha256)
    return job, found
