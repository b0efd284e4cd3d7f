"""The ledger on real Postgres: rows opened before a call, orphans closed at reserved cost."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

from sqlalchemy import select, text, update

from schemas.jobs import JobStatus
from storage import jobs as job_store
from storage.db import session_scope
from storage.ledger import CallResult, CallRow, close_call, close_orphans, open_call
from storage.models import Job, LlmCall
from tests.support.store_seed import tenant_with_jobs

GRACE = dt.timedelta(seconds=0)
MAX_CALL = dt.timedelta(seconds=600)
RESERVED = Decimal("0.012345")


def _running_job(pg_url: str) -> tuple[uuid.UUID, uuid.UUID]:
    tenant_id, (job_id,) = tenant_with_jobs(pg_url, prefix="ledger")
    with session_scope(pg_url) as session:
        claimed = job_store.claim(session=session, job_id=job_id, worker="w:1", lease_s=60)
        assert claimed is not None
        assert claimed.attempts == 1
    return tenant_id, job_id


def _open(pg_url: str, tenant_id: uuid.UUID, job_id: uuid.UUID, *, attempt: int = 1) -> int:
    row = CallRow(
        job_id=job_id,
        tenant_id=tenant_id,
        attempt=attempt,
        seq=1,
        tier="low",
        provider="openai",
        model="gpt-5.6-luna",
        chunk=None,
        input_tokens=0,
        output_tokens=0,
        cached_tokens=0,
        cost_usd=RESERVED,
        latency_ms=0,
        outcome="ignored: open_call writes in_flight",
        status_code=None,
    )
    with session_scope(pg_url, autocommit=True) as session:
        return open_call(session=session, row=row)


def _call(pg_url: str, call_id: int) -> tuple[str, Decimal]:
    with session_scope(pg_url) as session:
        row = session.execute(
            select(LlmCall.outcome, LlmCall.cost_usd).where(LlmCall.id == call_id)
        ).one()
        return row[0], row[1]


def _close_orphans(pg_url: str) -> int:
    with session_scope(pg_url) as session:
        return close_orphans(session=session, grace=GRACE, max_call=MAX_CALL)


def test_an_opened_call_is_in_flight_at_its_reserved_cost_until_it_answers(pg_url: str) -> None:
    tenant_id, job_id = _running_job(pg_url)
    call_id = _open(pg_url, tenant_id, job_id)
    assert _call(pg_url, call_id) == ("in_flight", RESERVED)
    answer = CallResult(120, 30, 0, Decimal("0.000100"), 250, "ok", 200)
    with session_scope(pg_url, autocommit=True) as session:
        assert close_call(session=session, call_id=call_id, result=answer) is True
    assert _call(pg_url, call_id) == ("ok", Decimal("0.000100"))


def test_a_call_of_a_live_attempt_is_never_closed_as_an_orphan(pg_url: str) -> None:
    tenant_id, job_id = _running_job(pg_url)
    call_id = _open(pg_url, tenant_id, job_id)
    _close_orphans(pg_url)
    assert _call(pg_url, call_id) == ("in_flight", RESERVED)


def test_a_requeued_attempts_call_is_closed_as_unknown_at_its_reserved_cost(pg_url: str) -> None:
    tenant_id, job_id = _running_job(pg_url)
    call_id = _open(pg_url, tenant_id, job_id)
    with session_scope(pg_url) as session:  # what the reconciler does to a dead worker's job
        session.execute(update(Job).where(Job.id == job_id).values(status=JobStatus.QUEUED))
    assert _close_orphans(pg_url) >= 1
    assert _call(pg_url, call_id) == ("unknown", RESERVED)
    late = CallResult(1, 1, 0, Decimal("0.000001"), 1, "ok", 200)
    with session_scope(pg_url, autocommit=True) as session:  # a late close changes nothing
        assert close_call(session=session, call_id=call_id, result=late) is False
    assert _call(pg_url, call_id) == ("unknown", RESERVED)


def test_a_call_older_than_any_live_call_is_closed_even_if_its_attempt_runs(pg_url: str) -> None:
    tenant_id, job_id = _running_job(pg_url)
    call_id = _open(pg_url, tenant_id, job_id)
    with session_scope(pg_url) as session:
        session.execute(
            text("UPDATE llm_calls SET created_at = now() - interval '1 hour' WHERE id = :id"),
            {"id": call_id},
        )
    _close_orphans(pg_url)
    assert _call(pg_url, call_id) == ("unknown", RESERVED)
