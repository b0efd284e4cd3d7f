"""What the console's batch and job pages read beyond the API's own views."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from storage.models import Document, Job, LlmCall

MESSAGES_PER_TYPE = 3


@dataclass(frozen=True)
class Failures:
    """A batch's failed jobs of one error type: how many, and a few distinct messages."""

    error_type: str
    count: int
    messages: list[str]


@dataclass(frozen=True)
class JobLine:
    """One job in a batch's job list."""

    id: uuid.UUID
    status: str
    filename: str | None
    confidence: float | None
    review_state: str | None
    error_type: str | None
    cost_usd: Decimal
    finished_at: dt.datetime | None


def failures(*, session: Session, batch_id: uuid.UUID) -> list[Failures]:
    """Failed jobs grouped by error type, the biggest group first."""
    messages = func.array_agg(func.distinct(Job.error_message))
    rows = session.execute(
        select(Job.error_type, func.count(), messages)
        .where(Job.batch_id == batch_id, Job.status == "failed")
        .group_by(Job.error_type)
        .order_by(func.count().desc(), Job.error_type)
    ).all()
    return [
        Failures(kind or "unknown", int(n), [m for m in (msgs or []) if m][:MESSAGES_PER_TYPE])
        for kind, n, msgs in rows
    ]


def batch_jobs(
    *, session: Session, batch_id: uuid.UUID, status: str | None, limit: int
) -> list[JobLine]:
    """The batch's first `limit` jobs (of one status, if given), in submission order."""
    stmt = select(
        Job.id, Job.status, Job.filename, Job.confidence, Job.review_state, Job.error_type,
        Job.cost_usd, Job.finished_at,
    ).where(Job.batch_id == batch_id)  # fmt: skip
    if status:
        stmt = stmt.where(Job.status == status)
    rows = session.execute(stmt.order_by(Job.created_at, Job.id).limit(limit)).all()
    return [JobLine(*row) for row in rows]


def job_calls(*, session: Session, job_id: uuid.UUID) -> list[LlmCall]:
    """Every provider call of the job, in the order they were made."""
    return list(
        session.scalars(
            select(LlmCall).where(LlmCall.job_id == job_id).order_by(LlmCall.attempt, LlmCall.seq)
        )
    )


def document_text(*, session: Session, job: Job) -> str:
    """The text the job read ('' when it has none, such as a scan still waiting for OCR)."""
    if job.document_sha256 is None:
        return ""
    return session.scalar(select(Document.text).where(Document.sha256 == job.document_sha256)) or ""
