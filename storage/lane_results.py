"""The batcher's result verbs: bill, settle and tape a chunk of answers, then wake the jobs.

A chunk of results costs three statements whatever its size: lock its items, resolve them
all (one statement of data-modifying CTEs), NOTIFY. Items are locked and resolved only
while `packed`, so a restarted poller that reads a result again bills nothing twice.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import delete, text
from sqlalchemy.orm import Session

from storage import budget
from storage.db import notify_jobs
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


def lock_items(*, session: Session, custom_ids: Sequence[str]) -> dict[str, LockedItem]:
    """The packed items among these custom ids, row-locked in id order; resolved ones left out."""
    rows = session.connection().execute(_LOCK, {"ids": list(custom_ids)})
    return {custom_id: LockedItem(*rest) for custom_id, *rest in rows}


# Core text: one array parameter, no ORM compile or per-id bind parameters
_LOCK = text(
    """
    SELECT custom_id, id, job_id, seq, provider, model, request_sha, call_id, reservation_id,
           reserved_usd, created_at
    FROM lane_items WHERE custom_id = ANY(CAST(:ids AS text[])) AND state = 'packed'
    ORDER BY id FOR UPDATE
    """
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
    body_json: str | None = None  # `body` already encoded (off the transaction's clock)


@dataclass(frozen=True, slots=True)
class Resolution:
    """One locked item's end: answered or errored (with its `answer`), or expired/cancelled/lost."""

    item: LockedItem
    state: str  # answered | errored | expired | cancelled | lost
    answer: Answer | None  # None: never answered, so never billed


@dataclass(frozen=True, slots=True)
class Switch:
    """When a woken job leaves the batch lane: a deadline before `before`, or too many tries."""

    before: dt.datetime
    max_resubmits: int
    reason: str


def resolve(*, session: Session, resolutions: Sequence[Resolution], switch: Switch) -> int:
    """Close a chunk of locked items in one statement; returns how many jobs it woke.

    Answered items bill their ledger row, settle their hold and go on their job's tape;
    unanswered ones delete their in-flight row and free their hold. The holds are summed
    per tenant and period first, so each `tenant_spend` row is updated once per chunk.
    """
    if not resolutions:
        return 0
    woken = session.execute(
        _RESOLVE,
        {
            "rows": "[" + ",".join(_row(r) for r in resolutions) + "]",
            "before": switch.before,
            "max_resubmits": switch.max_resubmits,
            "reason": switch.reason,
        },
    ).scalar_one()
    if woken:
        notify_jobs(session=session)
    return int(woken)


def _row(resolution: Resolution) -> str:
    """The resolution as a JSON object; the answer's body spliced in as its JSON text."""
    item, answer = resolution.item, resolution.answer
    row: dict[str, Any] = {
        "item_id": item.id,
        "job_id": str(item.job_id),
        "seq": item.seq,
        "request_sha": item.request_sha,
        "call_id": item.call_id,
        "reservation_id": None if item.reservation_id is None else str(item.reservation_id),
        "state": resolution.state,
        "answered": answer is not None,
        "cost_usd": "0",
    }
    if answer is None:
        return json.dumps(row, separators=(",", ":"))
    row.update(
        status=answer.status,
        input_tokens=answer.input_tokens,
        output_tokens=answer.output_tokens,
        cached_tokens=answer.cached_tokens,
        cache_write_tokens=answer.cache_write_tokens,
        cost_usd=str(answer.cost_usd),
        outcome=answer.outcome,
    )
    body = answer.body_json
    if body is None:
        body = json.dumps(answer.body, separators=(",", ":"))
    return f'{json.dumps(row, separators=(",", ":"))[:-1]},"body":{body}}}'


# One statement per chunk. Data-modifying CTEs all see the snapshot from before the
# statement, so the wake counts the chunk's own losses from `v` and excludes its items from
# the "another request still out" test. Spend rows are locked in (tenant, period) order,
# the order every reserve and settle takes, so this never deadlocks with them.
_RESOLVE = text(
    """
    WITH v AS MATERIALIZED (
        SELECT * FROM jsonb_to_recordset(CAST(:rows AS jsonb)) AS v(
            item_id bigint, job_id uuid, seq int, request_sha text, call_id bigint,
            reservation_id uuid, state text, answered boolean, status int, body jsonb,
            input_tokens int, output_tokens int, cached_tokens int, cache_write_tokens int,
            cost_usd numeric, outcome text)
    ), billed AS (
        UPDATE llm_calls c SET input_tokens = v.input_tokens, output_tokens = v.output_tokens,
            cached_tokens = v.cached_tokens, cache_write_tokens = v.cache_write_tokens,
            cost_usd = v.cost_usd, outcome = v.outcome, status_code = v.status
        FROM v WHERE v.answered AND c.id = v.call_id AND c.outcome = 'in_flight'
        RETURNING c.id
    ), unbilled AS (
        DELETE FROM llm_calls c USING v
        WHERE NOT v.answered AND c.id = v.call_id AND c.outcome = 'in_flight'
        RETURNING c.id
    ), settled AS (
        UPDATE budget_reservations b SET settled_at = now()
        FROM v WHERE b.id = v.reservation_id AND b.settled_at IS NULL
        RETURNING b.tenant_id, b.month, b.day, b.amount_usd, v.cost_usd AS actual
    ), per AS (
        SELECT s.tenant_id, p.period, sum(s.amount_usd) AS held, sum(s.actual) AS actual
        FROM settled s CROSS JOIN LATERAL (VALUES (s.month), (s.day)) AS p(period)
        GROUP BY s.tenant_id, p.period
    ), locked AS (
        SELECT t.tenant_id, t.period, per.held, per.actual
        FROM tenant_spend t JOIN per ON t.tenant_id = per.tenant_id AND t.period = per.period
        ORDER BY t.tenant_id, t.period
        FOR UPDATE OF t
    ), moved AS (
        UPDATE tenant_spend t
        SET reserved_usd = t.reserved_usd - l.held, spent_usd = t.spent_usd + l.actual
        FROM locked l WHERE t.tenant_id = l.tenant_id AND t.period = l.period
        RETURNING 1
    ), taped AS (
        INSERT INTO lane_exchanges (job_id, seq, request_sha, status, body)
        SELECT v.job_id, v.seq, v.request_sha, v.status, v.body FROM v WHERE v.answered
        ON CONFLICT ON CONSTRAINT uq_lane_exchanges_job_seq DO NOTHING
        RETURNING 1
    ), closed AS (
        UPDATE lane_items i SET state = v.state, resolved_at = now()
        FROM v WHERE i.id = v.item_id
        RETURNING 1
    ), recosted AS (
        -- A job cancelled while its request was out: the answer arrived and is billed, so
        -- the job's own totals take it (cancel summed only what was billed by then).
        UPDATE jobs j SET cost_usd = j.cost_usd + c.cost_usd,
            input_tokens = j.input_tokens + c.input_tokens,
            output_tokens = j.output_tokens + c.output_tokens
        FROM (SELECT v.job_id, sum(v.cost_usd) AS cost_usd, sum(v.input_tokens) AS input_tokens,
                     sum(v.output_tokens) AS output_tokens
              FROM v WHERE v.answered GROUP BY v.job_id) c
        WHERE j.id = c.job_id AND j.status = 'cancelled'
        RETURNING 1
    ), tries AS (
        SELECT v.job_id, v.seq,
            count(*) FILTER (WHERE v.state IN ('expired', 'cancelled', 'lost'))
            + (SELECT count(*) FROM lane_items i WHERE i.job_id = v.job_id AND i.seq = v.seq
               AND i.state IN ('expired', 'cancelled', 'lost')) AS lost
        FROM v GROUP BY v.job_id, v.seq
    ), due AS (
        SELECT t.job_id, bool_or(t.lost >= :max_resubmits) AS lost_too_often
        FROM tries t GROUP BY t.job_id
    ), woken AS (
        -- Wake each job for its worker; it leaves the lane when no batch round fits its
        -- deadline, or when a request of it was lost too often (expired, cancelled, failed).
        UPDATE jobs j SET parked_at = NULL, dispatched_at = NULL,
            lane = CASE WHEN d.lost_too_often OR coalesce(j.deadline < :before, false)
                        THEN 'realtime' ELSE j.lane END,
            lane_reason = CASE WHEN d.lost_too_often OR coalesce(j.deadline < :before, false)
                               THEN :reason ELSE j.lane_reason END
        FROM due d
        WHERE j.id = d.job_id AND j.status = 'queued' AND j.parked_at IS NOT NULL
          AND NOT EXISTS (SELECT 1 FROM lane_items o WHERE o.job_id = j.id
                          AND o.state IN ('parked', 'packed')
                          AND o.id NOT IN (SELECT v.item_id FROM v))
        RETURNING 1
    )
    SELECT count(*) FROM woken
    """
)


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
