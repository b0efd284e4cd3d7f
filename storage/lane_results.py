"""The batcher's result verbs: bill, settle and tape one item's answer, then wake its job.

Each runs under the item's row lock and only while the item is `packed`, so a restarted
poller that reads a result again bills nothing twice.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import delete, func, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from storage import budget
from storage.db import notify_jobs
from storage.lane_models import LaneExchange, LaneItem
from storage.ledger import IN_FLIGHT
from storage.models import LlmCall


@dataclass(frozen=True, slots=True)
class LockedItem:
    """A packed item, locked for its result."""

    id: int
    job_id: uuid.UUID
    seq: int
    provider: str
    model: str
    request_sha: str
    call_id: int | None
    reservation_id: uuid.UUID | None
    reserved_usd: Decimal
    created_at: dt.datetime


def lock_item(*, session: Session, custom_id: str) -> LockedItem | None:
    """The packed item with this custom id, row-locked; None if unknown or already resolved."""
    row = session.execute(
        select(LaneItem).where(LaneItem.custom_id == custom_id).with_for_update()
    ).scalar_one_or_none()
    if row is None or row.state != "packed":
        return None
    return LockedItem(
        row.id,
        row.job_id,
        row.seq,
        row.provider,
        row.model,
        row.request_sha,
        row.call_id,
        row.reservation_id,
        row.reserved_usd,
        row.created_at,
    )


@dataclass(frozen=True, slots=True)
class Answer:
    """What a result says about one item: its answer (or error) and what it cost."""

    status: int
    body: dict[str, Any] | None
    input_tokens: int
    output_tokens: int
    cached_tokens: int
    cache_write_tokens: int
    cost_usd: Decimal
    outcome: str  # ok | http_<status>


def resolve_answered(
    *, session: Session, item: LockedItem, answer: Answer, state: str, switch: Switch
) -> None:
    """Bill the item's row, settle its hold, record the answer on the tape, wake the job."""
    if item.call_id is not None:
        session.execute(
            update(LlmCall)
            .where(LlmCall.id == item.call_id, LlmCall.outcome == IN_FLIGHT)
            .values(
                input_tokens=answer.input_tokens,
                output_tokens=answer.output_tokens,
                cached_tokens=answer.cached_tokens,
                cache_write_tokens=answer.cache_write_tokens,
                cost_usd=answer.cost_usd,
                outcome=answer.outcome,
                status_code=answer.status,
            )
        )
    if item.reservation_id is not None:
        budget.settle(
            session=session, reservation_id=item.reservation_id, actual_usd=answer.cost_usd
        )
    session.execute(
        insert(LaneExchange)
        .values(
            job_id=item.job_id,
            seq=item.seq,
            request_sha=item.request_sha,
            status=answer.status,
            body=answer.body,
        )
        .on_conflict_do_nothing(constraint="uq_lane_exchanges_job_seq")
    )
    _resolve(session, item, state, switch)


def resolve_unanswered(*, session: Session, item: LockedItem, state: str, switch: Switch) -> None:
    """An expired, cancelled or lost item: never billed, so its row goes and its hold frees."""
    refund(session, item.call_id, item.reservation_id)
    _resolve(session, item, state, switch)


@dataclass(frozen=True, slots=True)
class Switch:
    """When a woken job leaves the batch lane: a deadline before `before`, or too many tries."""

    before: dt.datetime
    max_resubmits: int
    reason: str


def _resolve(session: Session, item: LockedItem, state: str, switch: Switch) -> None:
    session.execute(
        update(LaneItem).where(LaneItem.id == item.id).values(state=state, resolved_at=func.now())
    )
    # Wake the job for its worker; it leaves the lane when no batch round fits its deadline,
    # or when this request was lost too often (expired, cancelled, a failed batch).
    session.execute(
        text(
            """
            UPDATE jobs j SET parked_at = NULL, dispatched_at = NULL,
                lane = CASE WHEN leave THEN 'realtime' ELSE j.lane END,
                lane_reason = CASE WHEN leave THEN :reason ELSE j.lane_reason END
            FROM (SELECT (j2.deadline IS NOT NULL AND j2.deadline < :before)
                      OR (SELECT count(*) FROM lane_items i WHERE i.job_id = :job AND i.seq = :seq
                          AND i.state IN ('expired', 'cancelled', 'lost')) >= :max_resubmits
                      AS leave
                  FROM jobs j2 WHERE j2.id = :job) AS d
            WHERE j.id = :job AND j.status = 'queued' AND j.parked_at IS NOT NULL
              AND NOT EXISTS (SELECT 1 FROM lane_items o WHERE o.job_id = :job
                              AND o.id <> :item AND o.state IN ('parked', 'packed'))
            """
        ),
        {
            "job": item.job_id,
            "item": item.id,
            "seq": item.seq,
            "before": switch.before,
            "max_resubmits": switch.max_resubmits,
            "reason": switch.reason,
        },
    )
    notify_jobs(session=session)


def refund(session: Session, call_id: int | None, reservation_id: uuid.UUID | None) -> None:
    """Delete an unsent or unanswered item's in-flight row and free its hold."""
    if call_id is not None:
        session.execute(delete(LlmCall).where(LlmCall.id == call_id, LlmCall.outcome == IN_FLIGHT))
    if reservation_id is not None:
        budget.settle(session=session, reservation_id=reservation_id, actual_usd=Decimal(0))


def wake_budget_waiters(*, session: Session, parked_before: dt.datetime | None = None) -> int:
    """Wake jobs parked for budget (no item of theirs waits): money may have come back.

    `parked_before`: only those parked before it (the batcher's periodic safety net, for a
    job that parked just as the last hold it waited for settled).
    """
    woken = session.execute(
        text(
            """
            UPDATE jobs j SET parked_at = NULL, dispatched_at = NULL
            WHERE j.parked_at IS NOT NULL AND j.status = 'queued'
              AND (CAST(:before AS timestamptz) IS NULL OR j.parked_at < :before)
              AND NOT EXISTS (SELECT 1 FROM lane_items i
                              WHERE i.job_id = j.id AND i.state IN ('parked', 'packed'))
            """
        ),
        {"before": parked_before},
    )
    if woken.rowcount:  # type: ignore[attr-defined]
        notify_jobs(session=session)
    return int(woken.rowcount)  # type: ignore[attr-defined]
