"""Deleting jobs, for retention and erasure alike: when a job may go, and what it takes along.

One rule (`settled`) says when a job may be deleted; `delete_jobs` folds its ledger rows
into daily totals, deletes it (the rest cascades) and then each document no job uses.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import ColumnElement, and_, exists, text
from sqlalchemy.orm import Session

from schemas.jobs import TERMINAL
from storage.lane_models import LaneItem
from storage.models import BudgetReservation, Job

_FOLD = text(
    """
    INSERT INTO usage_days AS u (tenant_id, day, model, tier, lane, calls, input_tokens,
                                 output_tokens, cached_tokens, cost_usd)
    SELECT tenant_id, date(timezone('UTC', created_at)), model, tier, lane, count(*),
           sum(input_tokens), sum(output_tokens), sum(cached_tokens), sum(cost_usd)
    FROM llm_calls WHERE job_id = ANY(:ids)
    GROUP BY 1, 2, 3, 4, 5
    ON CONFLICT (tenant_id, day, model, tier, lane) DO UPDATE SET
        calls = u.calls + EXCLUDED.calls,
        input_tokens = u.input_tokens + EXCLUDED.input_tokens,
        output_tokens = u.output_tokens + EXCLUDED.output_tokens,
        cached_tokens = u.cached_tokens + EXCLUDED.cached_tokens,
        cost_usd = u.cost_usd + EXCLUDED.cost_usd
    """
)


def settled() -> ColumnElement[bool]:
    """True for a `Job` row that nothing still bills, so it may be deleted.

    Not settled: a job not yet terminal, a budget reservation not settled, a request packed
    into a provider batch (its answer will be billed against the job's rows).
    """
    return and_(
        Job.status.in_(sorted(TERMINAL)),
        ~exists().where(BudgetReservation.job_id == Job.id, BudgetReservation.settled_at.is_(None)),
        ~exists().where(LaneItem.job_id == Job.id, LaneItem.state == "packed"),
    )


# llm_calls, lane items and tapes, reviews, webhook deliveries and reservations cascade.
_DELETE_JOBS = text("DELETE FROM jobs WHERE id = ANY(:ids)")


def delete_jobs(*, session: Session, rows: Sequence[tuple[uuid.UUID, str | None]]) -> int:
    """Delete these (job id, document hash) rows, settled and locked by the caller.

    Their calls are folded into `usage_days` first; then each of their documents that no
    job uses any more goes. Returns how many documents went.
    """
    if not rows:
        return 0
    ids = [job_id for job_id, _ in rows]
    fold_calls(session=session, job_ids=ids)
    session.execute(_DELETE_JOBS, {"ids": ids})
    return delete_unused_documents(session=session, shas=sorted({s for _, s in rows if s}))


def fold_calls(*, session: Session, job_ids: list[uuid.UUID]) -> None:
    """Add these jobs' ledger rows to `usage_days`; the caller deletes them in the same
    transaction, so each call is counted once, in one place or the other."""
    if job_ids:
        session.execute(_FOLD, {"ids": job_ids})


_LOCK_DOCUMENTS = text(
    "SELECT sha256 FROM documents WHERE sha256 = ANY(:shas) ORDER BY sha256 FOR UPDATE"
)
# Its own statement, so its snapshot sees every job committed while the lock was awaited.
_DELETE_DOCUMENTS = text(
    """
    DELETE FROM documents d WHERE d.sha256 = ANY(:shas)
    AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.document_sha256 = d.sha256)
    """
)


def delete_unused_documents(*, session: Session, shas: list[str]) -> int:
    """Delete those of these documents that no job uses any more; return how many went.

    The rows are locked first, in hash order (the intake's order too, storage/bulk.py): an
    intake reusing one either finished first (its job keeps the document) or waits and
    stores the text anew.
    """
    if not shas:
        return 0
    session.execute(_LOCK_DOCUMENTS, {"shas": sorted(shas)})
    deleted = session.execute(_DELETE_DOCUMENTS, {"shas": shas}).rowcount  # type: ignore[attr-defined]
    return int(deleted)
