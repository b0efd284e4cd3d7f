"""Batch verbs: open (idempotent), bulk-add jobs, read, summarize, cancel, retry."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from schemas.jobs import ErrorType, JobStatus
from storage import bulk
from storage.db import notify_jobs
from storage.errors import IdempotencyConflict, NotFound
from storage.jobs import REQUEUED, RETRYABLE, NewJob
from storage.models import Batch, Job
from storage.rows import moving, owned

# Batch ids for an Idempotency-Key are derived, so a replay finds its batch by primary key.
_KEY_NAMESPACE = uuid.UUID("4f1c7a52-93d4-4b57-9a43-6c1f0f3f0c11")
_ACTIVE = (JobStatus.QUEUED, JobStatus.RUNNING)


@dataclass(frozen=True)
class Summary:
    """A batch's job counts per status (all five), usage so far, and when it finished."""

    total: int
    counts: dict[str, int]
    input_tokens: int
    output_tokens: int
    cost_usd: Decimal
    finished_at: dt.datetime | None

    @property
    def progress(self) -> float:
        """Terminal jobs over total (1 for a batch of only duplicates: nothing to do)."""
        active = sum(self.counts[s] for s in _ACTIVE)
        return round((self.total - active) / self.total, 6) if self.total else 1.0


def open_batch(
    *,
    session: Session,
    tenant_id: uuid.UUID,
    schema_name: str,
    tier: str,
    webhook_url: str | None,
    key: str | None,
) -> Batch:
    """Create a batch, or with an idempotency `key` return the one created earlier.

    A replay must name the same schema and tier (IdempotencyConflict otherwise); its new
    documents join the existing batch, which is how an interrupted upload resumes.
    """
    batch_id = uuid.uuid5(_KEY_NAMESPACE, f"{tenant_id}:{key}") if key else uuid.uuid4()
    session.execute(
        insert(Batch)
        .values(
            id=batch_id,
            tenant_id=tenant_id,
            schema_name=schema_name,
            tier=tier,
            total=0,
            webhook_url=webhook_url,
            meta={"idempotency_key": key} if key else {},
        )
        .on_conflict_do_nothing(index_elements=["id"])
    )
    batch = session.get(Batch, batch_id, populate_existing=True)
    if batch is None or batch.tenant_id != tenant_id:  # pragma: no cover - deleted mid-flight
        raise NotFound("batch", batch_id)
    if (batch.schema_name, batch.tier) != (schema_name, tier):
        raise IdempotencyConflict(key or "")
    return batch


def add_jobs(*, session: Session, batch_id: uuid.UUID, rows: list[NewJob]) -> int:
    """Insert a chunk of one batch's jobs (keys already taken are skipped); return how many."""
    created = bulk.insert_jobs(session=session, batch_id=batch_id, rows=rows)
    if created:
        session.execute(
            update(Batch)
            .where(Batch.id == batch_id)
            .values(total=Batch.total + created, finished_at=None)
        )
    return created


def get_batch(*, session: Session, tenant_id: uuid.UUID, batch_id: uuid.UUID) -> Batch:
    """A tenant's batch; another tenant's id is NotFound."""
    return owned(session=session, model=Batch, tenant_id=tenant_id, ident=batch_id, what="batch")


def summarize(*, session: Session, batch: Batch) -> Summary:
    """Count the batch's jobs in one snapshot; record `finished_at` once all are terminal."""
    rows = session.execute(
        select(
            Batch.total,
            Job.status,
            func.count(Job.id),
            func.coalesce(func.sum(Job.input_tokens), 0),
            func.coalesce(func.sum(Job.output_tokens), 0),
            func.coalesce(func.sum(Job.cost_usd), 0),
            func.max(Job.finished_at),
        )
        .select_from(Batch)
        .outerjoin(Job, Job.batch_id == Batch.id)
        .where(Batch.id == batch.id)
        .group_by(Batch.total, Job.status)
    ).all()
    counts = {str(s): 0 for s in JobStatus}
    total, tokens_in, tokens_out, cost = batch.total, 0, 0, Decimal(0)
    last: dt.datetime | None = None
    for row_total, status, n, t_in, t_out, c, fin in rows:
        total = row_total
        if status is None:  # the outer join of a batch without jobs
            continue
        counts[status] = n
        tokens_in, tokens_out, cost = tokens_in + t_in, tokens_out + t_out, cost + c
        last = fin if last is None or (fin is not None and fin > last) else last
    # A batch is opened with its first chunk, so an empty one held only duplicates.
    done = not any(counts[s] for s in _ACTIVE)
    finished = batch.finished_at
    if done != (finished is not None):
        # Set once when the last job ends; cleared when a retry or an append reopens it.
        finished = (last or dt.datetime.now(dt.UTC)) if done else None
        session.execute(update(Batch).where(Batch.id == batch.id).values(finished_at=finished))
    return Summary(total, counts, int(tokens_in), int(tokens_out), Decimal(cost), finished)


def cancel(*, session: Session, batch: Batch) -> int:
    """Cancel the batch's jobs that have not started; running ones finish. Returns the count."""
    cancelled = session.execute(
        update(Job)
        .where(Job.batch_id == batch.id, moving(from_=(JobStatus.QUEUED,), to=JobStatus.CANCELLED))
        .values(
            status=JobStatus.CANCELLED,
            error_type=ErrorType.CANCELLED,
            error_message="cancelled with its batch before it started",
            finished_at=func.now(),
        )
    ).rowcount  # type: ignore[attr-defined]
    session.execute(update(Batch).where(Batch.id == batch.id).values(cancelled_at=func.now()))
    notify_jobs(session=session)  # queued slots freed
    return int(cancelled)


def retry(*, session: Session, batch: Batch) -> int:
    """Requeue the batch's failed and cancelled jobs; returns how many.

    Jobs whose document could not be read (no stored text) would only fail again, so
    they stay failed.
    """
    requeued = session.execute(
        update(Job)
        .where(
            Job.batch_id == batch.id,
            moving(from_=RETRYABLE, to=JobStatus.QUEUED),
            Job.document_sha256.isnot(None),
        )
        .values(**REQUEUED)
    ).rowcount  # type: ignore[attr-defined]
    if requeued:
        session.execute(
            update(Batch).where(Batch.id == batch.id).values(finished_at=None, cancelled_at=None)
        )
        notify_jobs(session=session)
    return int(requeued)
