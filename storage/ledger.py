"""The usage ledger: one row per provider call, opened before the call is sent.

A call's row is written with outcome `in_flight` and the call's reserved worst-case cost
before the request leaves, then completed with the real usage when the answer comes. A
worker killed mid-call leaves its row `in_flight`; the reconciler closes such orphans as
`unknown` at the reserved cost, so the ledger sees every request the provider saw and
spend is never under-counted.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import insert, select, text, update
from sqlalchemy.orm import Session

from storage.models import LlmCall

IN_FLIGHT = "in_flight"
UNKNOWN = "unknown"  # sent, answer never recorded: billed at the reserved worst case


@dataclass(frozen=True)
class CallRow:
    """One billed provider call."""

    job_id: uuid.UUID
    tenant_id: uuid.UUID
    attempt: int
    seq: int
    tier: str
    provider: str
    model: str
    chunk: int | None
    input_tokens: int
    output_tokens: int
    cached_tokens: int
    cost_usd: Decimal
    latency_ms: int
    outcome: str
    status_code: int | None
    cache_write_tokens: int = 0  # of input_tokens (Anthropic prompt-cache writes)


@dataclass(frozen=True)
class CallResult:
    """What the answer (or the error) of an opened call says."""

    input_tokens: int
    output_tokens: int
    cached_tokens: int
    cost_usd: Decimal
    latency_ms: int
    outcome: str
    status_code: int | None
    cache_write_tokens: int = 0  # of input_tokens (Anthropic prompt-cache writes)


def record_call(*, session: Session, row: CallRow) -> None:
    """Append one finished call to the ledger."""
    session.execute(insert(LlmCall).values(**row.__dict__))


def find_call(*, session: Session, job_id: uuid.UUID, attempt: int, seq: int) -> int | None:
    """The id of the ledger row of a job's attempt's `seq`-th call, if it was written."""
    found = session.execute(
        select(LlmCall.id)
        .where(LlmCall.job_id == job_id, LlmCall.attempt == attempt, LlmCall.seq == seq)
        .limit(1)
    ).scalar()
    return int(found) if found is not None else None


def call_outcome(*, session: Session, call_id: int) -> str | None:
    """A ledger row's outcome now (None if there is no such row)."""
    return session.execute(select(LlmCall.outcome).where(LlmCall.id == call_id)).scalar()


def open_call(*, session: Session, row: CallRow) -> int:
    """Write a call's row before it is sent (outcome `in_flight`, reserved cost); its id."""
    values = {**row.__dict__, "outcome": IN_FLIGHT}
    return int(session.execute(insert(LlmCall).values(**values).returning(LlmCall.id)).scalar_one())


def close_call(*, session: Session, call_id: int, result: CallResult) -> bool:
    """Complete an opened call with its answer; False if the reconciler closed it first."""
    done = session.execute(
        update(LlmCall)
        .where(LlmCall.id == call_id, LlmCall.outcome == IN_FLIGHT)
        .values(**result.__dict__)
        .execution_options(synchronize_session=False)
    )
    return bool(done.rowcount)  # type: ignore[attr-defined]


def judge_call(*, session: Session, call_id: int, outcome: str) -> bool:
    """Record a replayed batch answer's verdict (`validation_error`) on its billed row."""
    done = session.execute(
        update(LlmCall)
        .where(LlmCall.id == call_id, LlmCall.outcome == "ok")
        .values(outcome=outcome)
        .execution_options(synchronize_session=False)
    )
    return bool(done.rowcount)  # type: ignore[attr-defined]


# An in-flight row is an orphan once its attempt no longer runs (the job was requeued,
# fenced or finished without closing it), or once it outlived any live call. A short
# grace keeps the reconciler off a call whose close is committing right now.
_CLOSE_ORPHANS = text(
    """
    UPDATE llm_calls c SET outcome = :unknown
    FROM jobs j
    WHERE c.outcome = :in_flight AND j.id = c.job_id AND c.lane = 'realtime'
      AND c.created_at < now() - make_interval(secs => :grace_s)
      AND (j.status <> 'running' OR j.attempts <> c.attempt
           OR c.created_at < now() - make_interval(secs => :max_call_s))
    """
)


def close_orphans(*, session: Session, grace: dt.timedelta, max_call: dt.timedelta) -> int:
    """Close calls whose worker died mid-call as `unknown` at their reserved cost; how many."""
    done = session.execute(
        _CLOSE_ORPHANS,
        {
            "unknown": UNKNOWN,
            "in_flight": IN_FLIGHT,
            "grace_s": grace.total_seconds(),
            "max_call_s": max_call.total_seconds(),
        },
    )
    return int(done.rowcount)  # type: ignore[attr-defined]
