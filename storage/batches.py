"""Batch verbs: open (idempotent), bulk-add jobs, read, summarize, cancel, retry."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import DateTime, Uuid, cast, column, func, select, update, values
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from schemas.jobs import ErrorType, JobStatus
from schemas.trust.fields import ReviewState
from storage import job_rows
from storage.db import notify_jobs
from storage.errors import Erased, IdempotencyConflict, NotFound
from storage.jobs import REQUEUED, RETRYABLE, NewJob, forget_tapes, open_items, usage_totals
from storage.models import Batch, Job
from storage.retention_models import Erasure
from storage.rows import moving, owned

# Batch ids for an Idempotency-Key are derived, so a replay finds its batch by primary key.
_KEY_NAMESPACE = uuid.UUID("4f1c7a52-93d4-4b57-9a43-6c1f0f3f0c11")
_ACTIVE = (JobStatus.QUEUED, JobStatus.RUNNING)


@dataclass(frozen=True)
class Summary:
    """A batch's jobs per status and per review state, usage so far, when it finished, status."""

    total: int
    counts: dict[str, int]
    input_tokens: int
    output_tokens: int
    cost_usd: Decimal
    finished_at: dt.datetime | None
    status: str  # queued | running | finished | cancelled (status_of)
    review: dict[str, int]

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
    lane: str = "realtime",
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
            lane=lane,
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
    created = job_rows.insert_jobs(session=session, batch_id=batch_id, rows=rows)
    if created:
        session.execute(
            update(Batch)
            .where(Batch.id == batch_id)
            .values(total=Batch.total + created, finished_at=None)
        )
    return created


def get_batch(*, session: Session, tenant_id: uuid.UUID, batch_id: uuid.UUID) -> Batch:
    """A tenant's batch; another tenant's id is NotFound, an erased one (or erasing) Erased."""
    erasure = session.get(Erasure, batch_id)
    if erasure is not None and erasure.tenant_id == tenant_id:
        raise Erased("batch", batch_id)
    return owned(session=session, model=Batch, tenant_id=tenant_id, ident=batch_id, what="batch")


def summarize(*, session: Session, batch: Batch) -> Summary:
    """Count the batch's jobs in one snapshot; record `finished_at` once all are terminal."""
    return summarize_many(session=session, batches=[batch])[batch.id]


def summarize_many(*, session: Session, batches: Sequence[Batch]) -> dict[uuid.UUID, Summary]:
    """Summaries of several batches from one grouped query (a page of GET /v1/batches)."""
    if not batches:
        return {}
    rows = session.execute(
        select(
            Batch.id,
            Batch.total,
            Batch.cancelled_at,
            Job.status,
            Job.review_state,
            func.count(Job.id),
            func.coalesce(func.sum(Job.input_tokens), 0),
            func.coalesce(func.sum(Job.output_tokens), 0),
            func.coalesce(func.sum(Job.cost_usd), 0),
            func.max(Job.finished_at),
        )
        .select_from(Batch)
        .outerjoin(Job, Job.batch_id == Batch.id)
        .where(Batch.id.in_([b.id for b in batches]))
        .group_by(Batch.id, Batch.total, Batch.cancelled_at, Job.status, Job.review_state)
    ).all()
    tallies = {b.id: _Tally(b.total, b.cancelled_at) for b in batches}
    for row in rows:
        tallies[row[0]].add(row[1:])
    out: dict[uuid.UUID, Summary] = {}
    flipped: list[tuple[uuid.UUID, dt.datetime | None]] = []
    for batch in batches:
        summary = tallies[batch.id].summary(batch.finished_at)
        if summary.finished_at != batch.finished_at:
            flipped.append((batch.id, summary.finished_at))
        out[batch.id] = summary
    if flipped:
        # Set once when the last job ends; cleared when a retry or an append reopens it.
        fix = values(
            column("id", Uuid()), column("finished_at", DateTime(timezone=True)), name="fix"
        ).data(flipped)
        # an all-NULL VALUES column is text to Postgres: cast it back
        when = cast(fix.c.finished_at, DateTime(timezone=True))
        session.execute(
            update(Batch).where(Batch.id == fix.c.id).values(finished_at=when),
            execution_options={"synchronize_session": False},
        )
        for batch in batches:  # the loaded rows agree with the database, with nothing to flush
            set_committed_value(batch, "finished_at", out[batch.id].finished_at)
    return out


class _Tally:
    """One batch's grouped rows, added up (all in the same snapshot)."""

    def __init__(self, total: int, cancelled_at: dt.datetime | None) -> None:
        self.total, self.cancelled = total, cancelled_at is not None
        self.counts = {str(s): 0 for s in JobStatus}
        self.review = {str(s): 0 for s in ReviewState}
        self.tokens_in, self.tokens_out, self.cost = 0, 0, Decimal(0)
        self.last: dt.datetime | None = None

    def add(self, row: Sequence[Any]) -> None:
        """Add one (batch, status, review state) group; the batch row's values come with each."""
        total, cancelled_at, status, review, n, t_in, t_out, cost, fin = row
        self.total, self.cancelled = total, cancelled_at is not None
        if status is None:  # the outer join of a batch without jobs
            return
        self.counts[status] += n
        if review is not None:  # failed and unfinished jobs have no review state
            self.review[review] = self.review.get(review, 0) + n
        self.tokens_in, self.tokens_out = self.tokens_in + t_in, self.tokens_out + t_out
        self.cost += cost
        if fin is not None and (self.last is None or fin > self.last):
            self.last = fin

    def summary(self, stored: dt.datetime | None) -> Summary:
        """The summary, keeping a stored `finished_at` while the batch stays done."""
        # A batch is opened with its first chunk, so an empty one held only duplicates.
        done = not any(self.counts[s] for s in _ACTIVE)
        finished = stored
        if done != (stored is not None):
            finished = (self.last or dt.datetime.now(dt.UTC)) if done else None
        status = status_of(cancelled=self.cancelled, finished=done, counts=self.counts)
        return Summary(
            self.total,
            self.counts,
            int(self.tokens_in),
            int(self.tokens_out),
            Decimal(self.cost),
            finished,
            status,
            self.review,
        )


def status_of(*, cancelled: bool, finished: bool, counts: dict[str, int]) -> str:
    """A batch's status (schemas.batch_api.BatchStatus); storage.batch_pages filters alike."""
    if cancelled:
        return "cancelled"
    if finished:
        return "finished"
    started = sum(n for s, n in counts.items() if s != JobStatus.QUEUED)
    return "running" if started else "queued"


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
            **usage_totals(Job.id, billed_only=True),
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
    requeued_ids = list(
        session.scalars(
            update(Job)
            .where(
                Job.batch_id == batch.id,
                moving(from_=RETRYABLE, to=JobStatus.QUEUED),
                Job.document_sha256.isnot(None),
                ~open_items(Job.id),  # a request still in a provider batch: retry it later
            )
            .values(**REQUEUED)
            .returning(Job.id)
        )
    )
    requeued = len(requeued_ids)
    if requeued:
        forget_tapes(session=session, job_ids=requeued_ids)
        session.execute(
            update(Batch).where(Batch.id == batch.id).values(finished_at=None, cancelled_at=None)
        )
        notify_jobs(session=session)
    return int(requeued)
