"""Erasure of a batch on request: its jobs, results, ledger detail and documents.

`request_erasure` records the request and cancels the batch's unstarted jobs; from then on
the API answers 410 for the batch. `erase_step` (run by the scheduler's housekeeping,
tasks/housekeeping) deletes the batch in chunks once nothing of it is in flight: no job
running, no budget still held, no request inside a provider batch. Money stays exact:
the calls' usage is folded into `usage_days` first (storage/ledger_rollup.py).

A document is deleted with the last job that uses it. One that a job of another batch
still uses stays (texts are stored once per content hash); the intake locks the rows it
reuses (storage/bulk.py), so a deletion never pulls a document from under a new job.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import exists, select, text
from sqlalchemy.orm import Session

from storage import batches as batch_store
from storage.ledger_rollup import delete_jobs, settled
from storage.models import Batch, Job
from storage.retention_models import Erasure

_RECORD = text(
    """
    INSERT INTO erasures (batch_id, tenant_id, documents_kept)
    SELECT :b, :t, count(DISTINCT j.document_sha256) FROM jobs j
    WHERE j.batch_id = :b AND EXISTS (
        SELECT 1 FROM jobs o
        WHERE o.document_sha256 = j.document_sha256 AND o.batch_id IS DISTINCT FROM :b
    )
    ON CONFLICT (batch_id) DO NOTHING
    """
)
_LOCK = text(
    "SELECT completed_at IS NOT NULL FROM erasures WHERE batch_id = :b FOR UPDATE SKIP LOCKED"
)
_CHUNK = text(
    """
    SELECT id, document_sha256 FROM jobs WHERE batch_id = :b ORDER BY id LIMIT :n FOR UPDATE
    """
)
_COUNT = text(
    """
    UPDATE erasures SET jobs_deleted = jobs_deleted + :jobs,
        documents_deleted = documents_deleted + :docs
    WHERE batch_id = :b
    """
)
_FINISH = text(
    """
    WITH gone AS (DELETE FROM batches WHERE id = :b)
    UPDATE erasures SET completed_at = now() WHERE batch_id = :b
    """
)


@dataclass(frozen=True)
class Step:
    """What one erasure step did: `busy` (still in flight, try later) or rows deleted."""

    busy: bool = False
    jobs: int = 0
    documents: int = 0
    done: bool = False


def request_erasure(*, session: Session, batch: Batch) -> Erasure:
    """Record the request (idempotent) and cancel the batch's jobs that have not started."""
    session.execute(_RECORD, {"b": batch.id, "t": batch.tenant_id})
    if batch.cancelled_at is None:
        batch_store.cancel(session=session, batch=batch)
    found = session.get(Erasure, batch.id, populate_existing=True)
    if found is None:  # pragma: no cover - inserted just above, or already there
        raise RuntimeError(f"erasure of {batch.id} not recorded")
    return found


def find_erasure(*, session: Session, batch_id: uuid.UUID) -> Erasure | None:
    """The erasure recorded for a batch, if any."""
    return session.get(Erasure, batch_id)


def pending(*, session: Session, limit: int = 20) -> list[uuid.UUID]:
    """Batches whose erasure is not complete, oldest request first."""
    rows = session.execute(
        text(
            "SELECT batch_id FROM erasures WHERE completed_at IS NULL"
            " ORDER BY requested_at LIMIT :n"
        ),
        {"n": limit},
    )
    return [row[0] for row in rows]


def erase_step(*, session: Session, batch_id: uuid.UUID, chunk: int = 2000) -> Step:
    """Delete up to `chunk` of the batch's jobs and the documents only they used.

    Run it in a transaction of its own, again until `done`. Another process erasing the
    same batch holds its row: this one then reports `busy` and does nothing.
    """
    locked = session.execute(_LOCK, {"b": batch_id}).scalar()
    if locked is None:
        return Step(busy=True)
    if locked:
        return Step(done=True)
    if session.execute(select(exists().where(Job.batch_id == batch_id, ~settled()))).scalar():
        return Step(busy=True)
    rows = session.execute(_CHUNK, {"b": batch_id, "n": chunk}).all()
    if not rows:
        session.execute(_FINISH, {"b": batch_id})
        return Step(done=True)
    documents = delete_jobs(session=session, rows=[(row[0], row[1]) for row in rows])
    session.execute(_COUNT, {"b": batch_id, "jobs": len(rows), "docs": documents})
    return Step(jobs=len(rows), documents=documents)
