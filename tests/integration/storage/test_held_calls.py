"""storage.held_calls: a call's hold and ledger row open together and close together."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import pytest
from sqlalchemy import select

from storage import budget
from storage.db import session_scope
from storage.errors import BudgetExhausted
from storage.held_calls import close_settled, open_held
from storage.ledger import IN_FLIGHT, CallResult, CallRow
from storage.models import BudgetReservation, LlmCall, TenantSpend
from tests.support.pg_count import counting
from tests.support.store_seed import tenant_with_jobs

NOW = dt.datetime.now(dt.UTC)


def _row(tenant_id: uuid.UUID, job_id: uuid.UUID, cost: str, seq: int = 1) -> CallRow:
    return CallRow(
        job_id=job_id,
        tenant_id=tenant_id,
        attempt=1,
        seq=seq,
        tier="low",
        provider="openai",
        model="gpt-5.6-luna",
        chunk=None,
        input_tokens=0,
        output_tokens=0,
        cached_tokens=0,
        cost_usd=Decimal(cost),
        latency_ms=0,
        outcome=IN_FLIGHT,
        status_code=None,
    )


def _result(cost: str, outcome: str = "ok") -> CallResult:
    return CallResult(
        input_tokens=120,
        output_tokens=30,
        cached_tokens=64,
        cost_usd=Decimal(cost),
        latency_ms=12,
        outcome=outcome,
        status_code=200,
    )


def _spend(pg_url: str, tenant_id: uuid.UUID) -> tuple[Decimal, Decimal]:
    month, _ = budget.periods(NOW)
    with session_scope(pg_url) as session:
        spend = session.get(TenantSpend, (tenant_id, month))
        assert spend is not None
        return spend.spent_usd, spend.reserved_usd


def _open(pg_url: str, row: CallRow, amount: str) -> tuple[uuid.UUID, int]:
    with session_scope(pg_url, autocommit=True) as session:
        return open_held(session=session, row=row, amount_usd=Decimal(amount), now=NOW)


def _close(pg_url: str, held: tuple[uuid.UUID, int], cost: str) -> tuple[bool, bool]:
    reservation_id, call_id = held
    with session_scope(pg_url, autocommit=True) as session:
        return close_settled(
            session=session,
            call_id=call_id,
            result=_result(cost),
            reservation_id=reservation_id,
            reserved_usd=Decimal("0.03"),
        )


def test_open_held_writes_the_hold_and_the_in_flight_row_in_one_statement(pg_url: str) -> None:
    tenant_id, (job_id,) = tenant_with_jobs(pg_url, prefix="held-open")
    _open(pg_url, _row(tenant_id, job_id, "0.01", seq=1), "0.01")  # creates the spend rows
    with counting(pg_url) as counted:
        reservation_id, call_id = _open(pg_url, _row(tenant_id, job_id, "0.02", seq=2), "0.02")
    assert counted.count == 1, counted.statements
    with session_scope(pg_url) as session:
        call = session.get(LlmCall, call_id)
        hold = session.get(BudgetReservation, reservation_id)
        assert call is not None
        assert hold is not None
        assert (call.outcome, call.cost_usd, call.seq) == (IN_FLIGHT, Decimal("0.02"), 2)
        assert (hold.amount_usd, hold.settled_at, hold.job_id) == (Decimal("0.02"), None, job_id)
    assert _spend(pg_url, tenant_id) == (Decimal(0), Decimal("0.03"))


def test_a_refused_hold_writes_no_ledger_row_and_says_what_is_left(pg_url: str) -> None:
    tenant_id, (job_id,) = tenant_with_jobs(pg_url, prefix="held-refused", budget=Decimal("0.05"))
    _open(pg_url, _row(tenant_id, job_id, "0.04"), "0.04")
    with pytest.raises(BudgetExhausted) as refused:
        _open(pg_url, _row(tenant_id, job_id, "0.02", seq=2), "0.02")
    assert (refused.value.reserved, refused.value.requested) == (Decimal("0.04"), Decimal("0.02"))
    with session_scope(pg_url) as session:
        rows = session.scalars(select(LlmCall.seq).where(LlmCall.job_id == job_id)).all()
    assert rows == [1]
    assert _spend(pg_url, tenant_id) == (Decimal(0), Decimal("0.04"))


def test_close_settled_completes_the_row_and_moves_the_hold_to_its_cost_in_one_statement(
    pg_url: str,
) -> None:
    tenant_id, (job_id,) = tenant_with_jobs(pg_url, prefix="held-close")
    held = _open(pg_url, _row(tenant_id, job_id, "0.03"), "0.03")
    with counting(pg_url) as counted:
        done = _close(pg_url, held, "0.0125")
    call_id = held[1]
    assert counted.count == 1, counted.statements
    assert done == (True, True)
    with session_scope(pg_url) as session:
        call = session.get(LlmCall, call_id)
        assert call is not None
        assert (call.outcome, call.cost_usd, call.cached_tokens) == ("ok", Decimal("0.0125"), 64)
    assert _spend(pg_url, tenant_id) == (Decimal("0.0125"), Decimal(0))


def test_close_settled_after_the_reconciler_billed_the_call_unknown_settles_at_the_reserved_cost(
    pg_url: str,
) -> None:
    tenant_id, (job_id,) = tenant_with_jobs(pg_url, prefix="held-unknown")
    held = _open(pg_url, _row(tenant_id, job_id, "0.03"), "0.03")
    with session_scope(pg_url) as session:
        call = session.get(LlmCall, held[1])
        assert call is not None
        call.outcome = "unknown"  # what the reconciler writes for an orphaned call
    done = _close(pg_url, held, "0.01")
    assert done == (False, True)
    assert _spend(pg_url, tenant_id) == (Decimal("0.03"), Decimal(0))


def test_close_settled_repeated_bills_nothing_twice(pg_url: str) -> None:
    tenant_id, (job_id,) = tenant_with_jobs(pg_url, prefix="held-twice")
    held = _open(pg_url, _row(tenant_id, job_id, "0.03"), "0.03")
    assert _close(pg_url, held, "0.02") == (True, True)
    assert _close(pg_url, held, "0.02") == (False, False)
    assert _spend(pg_url, tenant_id) == (Decimal("0.02"), Decimal(0))
