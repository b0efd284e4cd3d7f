"""The usage ledger's lane on real Postgres: realtime by default, reported apart from batch."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError

from storage import usage
from storage.db import session_scope
from storage.ledger import CallRow, open_call
from storage.models import LlmCall
from tests.support.store_seed import tenant_with_jobs

DAY = dt.date(2026, 11, 23)
NOON = dt.datetime.combine(DAY, dt.time(12), tzinfo=dt.UTC)


def _job(pg_url: str) -> tuple[uuid.UUID, uuid.UUID]:
    """A tenant of its own and one job to hang ledger rows on."""
    tenant_id, job_ids = tenant_with_jobs(pg_url, prefix="lanes")
    return tenant_id, job_ids[0]


def _call(tenant_id: uuid.UUID, job_id: uuid.UUID, seq: int, **values: Any) -> dict[str, Any]:
    row = {
        "job_id": job_id,
        "tenant_id": tenant_id,
        "attempt": 1,
        "seq": seq,
        "tier": "low",
        "provider": "openai",
        "model": "gpt-4.1-mini",
        "input_tokens": 100,
        "output_tokens": 10,
        "cached_tokens": 0,
        "cost_usd": Decimal("0.001000"),
        "outcome": "ok",
        "created_at": NOON,
    }
    return {**row, **values}


def test_spend_by_day_reports_realtime_and_batch_calls_on_separate_lines(pg_url: str) -> None:
    tenant_id, job_id = _job(pg_url)
    rows = [
        _call(tenant_id, job_id, 1),  # no lane named: the server default, realtime
        _call(tenant_id, job_id, 2, lane="realtime"),
        _call(tenant_id, job_id, 3, lane="batch", cost_usd=Decimal("0.000500")),
        _call(tenant_id, job_id, 4, lane="batch", model="claude-haiku-4-5", tier="medium"),
        _call(tenant_id, job_id, 5, created_at=NOON + dt.timedelta(days=1)),
    ]
    with session_scope(pg_url) as session:
        session.execute(insert(LlmCall), rows)
    with session_scope(pg_url) as session:
        lines = usage.spend_by_day(session=session, tenant_id=tenant_id, since=DAY, until=DAY)
    got = {(ln.day, ln.model, ln.tier, ln.lane): (ln.calls, ln.cost_usd) for ln in lines}
    assert got == {
        (DAY, "claude-haiku-4-5", "medium", "batch"): (1, Decimal("0.001000")),
        (DAY, "gpt-4.1-mini", "low", "batch"): (1, Decimal("0.000500")),
        (DAY, "gpt-4.1-mini", "low", "realtime"): (2, Decimal("0.002000")),
    }
    # ordered by day, model, tier, lane: a report reads the same every time
    assert [(ln.model, ln.lane) for ln in lines] == sorted((ln.model, ln.lane) for ln in lines)
    totals = usage.total(lines)
    assert (totals.calls, totals.cost_usd) == (4, Decimal("0.003500"))


def test_a_ledger_row_the_worker_opens_without_a_lane_is_realtime(pg_url: str) -> None:
    tenant_id, job_id = _job(pg_url)
    row = CallRow(
        job_id=job_id,
        tenant_id=tenant_id,
        attempt=1,
        seq=1,
        tier="low",
        provider="openai",
        model="gpt-4.1-mini",
        chunk=None,
        input_tokens=0,
        output_tokens=0,
        cached_tokens=0,
        cost_usd=Decimal("0.000100"),
        latency_ms=0,
        outcome="ignored: open_call writes in_flight",
        status_code=None,
    )
    with session_scope(pg_url, autocommit=True) as session:
        call_id = open_call(session=session, row=row)
    with session_scope(pg_url) as session:
        lane = session.scalar(select(LlmCall.lane).where(LlmCall.id == call_id))
        today = dt.datetime.now(dt.UTC).date()
        lines = usage.spend_by_day(session=session, tenant_id=tenant_id, since=today, until=today)
    assert lane == "realtime"
    assert [(ln.lane, ln.calls) for ln in lines] == [("realtime", 1)]


def test_the_ledger_refuses_a_lane_that_is_neither_realtime_nor_batch(pg_url: str) -> None:
    tenant_id, job_id = _job(pg_url)
    with pytest.raises(IntegrityError, match="ck_llm_calls_lane"), session_scope(pg_url) as session:
        session.execute(insert(LlmCall), [_call(tenant_id, job_id, 1, lane="turbo")])
