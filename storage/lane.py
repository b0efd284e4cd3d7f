"""The batch lane's job verbs: a job's tape, and parking a request for a provider batch.

A parked job is `queued` with `parked_at` set: the scheduler leaves it alone (its work-list
index excludes it) until the batcher records the answer and clears `parked_at`.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.orm import Session

from schemas.jobs import JobStatus
from storage import budget
from storage.errors import InvalidState
from storage.lane_models import LaneExchange, LaneItem
from storage.ledger import IN_FLIGHT
from storage.models import BudgetReservation, Job, LlmCall
from storage.rows import moving


@dataclass(frozen=True, slots=True)
class ParkedRequest:
    """One captured request of one attempt, priced at its batch-lane worst case."""

    job_id: uuid.UUID
    tenant_id: uuid.UUID
    attempt: int
    tier: str
    seq: int
    provider: str
    model: str
    body: dict[str, Any]
    request_sha: str
    request_bytes: int
    reserved_usd: Decimal


def load_tape(*, session: Session, job_id: uuid.UUID) -> list[tuple[str, int, Any, int | None]]:
    """The job's recorded exchanges in request order: (request sha, status, body, call id).

    The call id is the ledger row the answer was billed on (its answered item's row).
    """
    billed_on = (
        select(LaneItem.call_id)
        .where(
            LaneItem.job_id == LaneExchange.job_id,
            LaneItem.seq == LaneExchange.seq,
            LaneItem.request_sha == LaneExchange.request_sha,
            LaneItem.state.in_(("answered", "errored")),
        )
        .order_by(LaneItem.id.desc())
        .limit(1)
        .correlate(LaneExchange)
        .scalar_subquery()
    )
    rows = session.execute(
        select(LaneExchange.request_sha, LaneExchange.status, LaneExchange.body, billed_on)
        .where(LaneExchange.job_id == job_id)
        .order_by(LaneExchange.seq)
    ).all()
    return [(sha, status, body, call_id) for sha, status, body, call_id in rows]


def custom_id(*, job_id: uuid.UUID, seq: int, attempt: int) -> str:
    """The item's id at the provider: unique per job, request and attempt (<= 64 chars)."""
    return f"dq-{job_id.hex}-{seq}-{attempt}"


def park(*, session: Session, parked: ParkedRequest, now: dt.datetime) -> None:
    """Hold the budget, open the ledger row and queue the item, and park the job (fenced).

    One transaction: a refused budget raises BudgetExhausted, and an attempt that no longer
    owns the job raises InvalidState, so nothing of it stays behind either way.
    """
    reservation_id = budget.reserve(
        session=session,
        tenant_id=parked.tenant_id,
        job_id=parked.job_id,
        amount_usd=parked.reserved_usd,
        now=now,
        lane="batch",
    )
    # A request captured where the tape holds another (the prompt changed since): that
    # answer and the rest are for other requests, so this one's answer must replace them.
    session.execute(
        delete(LaneExchange).where(
            LaneExchange.job_id == parked.job_id, LaneExchange.seq >= parked.seq
        )
    )
    call_id = session.execute(
        insert(LlmCall)
        .values(
            job_id=parked.job_id,
            tenant_id=parked.tenant_id,
            attempt=parked.attempt,
            seq=parked.seq,
            tier=parked.tier,
            provider=parked.provider,
            model=parked.model,
            chunk=None,
            cost_usd=parked.reserved_usd,
            outcome=IN_FLIGHT,
            lane="batch",
        )
        .returning(LlmCall.id)
    ).scalar_one()
    session.execute(
        insert(LaneItem).values(
            custom_id=custom_id(job_id=parked.job_id, seq=parked.seq, attempt=parked.attempt),
            job_id=parked.job_id,
            tenant_id=parked.tenant_id,
            seq=parked.seq,
            provider=parked.provider,
            model=parked.model,
            body=parked.body,
            request_sha=parked.request_sha,
            request_bytes=parked.request_bytes,
            call_id=call_id,
            reservation_id=reservation_id,
            reserved_usd=parked.reserved_usd,
        )
    )
    moved = session.execute(
        update(Job)
        .where(
            Job.id == parked.job_id,
            Job.attempts == parked.attempt,
            moving(from_=(JobStatus.RUNNING,), to=JobStatus.QUEUED),
        )
        .values(
            status=JobStatus.QUEUED,
            parked_at=func.now(),
            dispatched_at=None,
            lease_expires_at=None,
            worker=None,
        )
    )
    if not moved.rowcount:  # type: ignore[attr-defined]
        raise InvalidState(f"job {parked.job_id} attempt {parked.attempt} no longer owns the job")


def wait_for_budget(
    *, session: Session, tenant_id: uuid.UUID, job_id: uuid.UUID, attempt: int
) -> bool:
    """Park the job without an item until a batch hold of its tenant settles; fenced.

    False when the tenant holds nothing in provider batches (no money is coming back, so the
    job fails `budget_exceeded`) or a newer attempt owns the job.
    """
    holding = (
        select(BudgetReservation.id)
        .where(
            BudgetReservation.tenant_id == tenant_id,
            BudgetReservation.lane == "batch",
            BudgetReservation.settled_at.is_(None),
        )
        .exists()
    )
    moved = session.execute(
        update(Job)
        .where(
            Job.id == job_id,
            Job.attempts == attempt,
            moving(from_=(JobStatus.RUNNING,), to=JobStatus.QUEUED),
            holding,
        )
        .values(
            status=JobStatus.QUEUED,
            parked_at=func.now(),
            dispatched_at=None,
            lease_expires_at=None,
            worker=None,
        )
    )
    return bool(moved.rowcount)  # type: ignore[attr-defined]
