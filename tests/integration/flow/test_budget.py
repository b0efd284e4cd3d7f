"""Budget reservations against the real Postgres: concurrency, settlement, caps, recovery."""

from __future__ import annotations

import datetime as dt
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest
from sqlalchemy import text

from storage import budget as store
from storage.db import session_scope
from storage.jobs import NewJob, create_job
from storage.ledger import CallRow, record_call
from storage.tenants import create_tenant
from tasks.errors import BudgetExceeded
from tasks.flow.budget import PostgresBudget

NOW = dt.datetime(2026, 11, 23, 12, 0, tzinfo=dt.UTC)


def _tenant_and_job(
    pg_url: str, *, monthly: str, daily: str | None = None
) -> tuple[uuid.UUID, uuid.UUID]:
    with session_scope(pg_url) as session:
        tenant = create_tenant(
            session=session,
            name=f"budget-{uuid.uuid4().hex}",
            monthly_budget_usd=Decimal(monthly),
            daily_budget_usd=Decimal(daily) if daily is not None else None,
            concurrency=4,
        )
        job, _ = create_job(
            session=session,
            new=NewJob(
                tenant_id=tenant.id,
                schema_name="invoice",
                schema_version="1",
                prompt_version="1",
                tier="fast",
                tier_reason="test",
                document_sha256=None,
            ),
        )
        return tenant.id, job.id


def _budget(pg_url: str, tenant_id: uuid.UUID, job_id: uuid.UUID) -> PostgresBudget:
    return PostgresBudget(tenant_id=tenant_id, job_id=job_id, url=pg_url, clock=lambda: NOW)


def _summary(pg_url: str, tenant_id: uuid.UUID) -> dict[str, Decimal | None]:
    with session_scope(pg_url) as session:
        return store.usage_summary(session=session, tenant_id=tenant_id, now=NOW)


def _ledger(pg_url: str, tenant_id: uuid.UUID, job_id: uuid.UUID, cost: str, seq: int) -> None:
    with session_scope(pg_url) as session:
        record_call(
            session=session,
            row=CallRow(
                job_id=job_id,
                tenant_id=tenant_id,
                attempt=1,
                seq=seq,
                tier="fast",
                provider="openai",
                model="gpt-test",
                chunk=None,
                input_tokens=10,
                output_tokens=10,
                cached_tokens=0,
                cost_usd=Decimal(cost),
                latency_ms=5,
                outcome="ok",
                status_code=200,
            ),
        )


def test_concurrent_reservations_never_exceed_the_budget(pg_url: str) -> None:
    tenant_id, job_id = _tenant_and_job(pg_url, monthly="10.00")
    budget = _budget(pg_url, tenant_id, job_id)
    gate = threading.Barrier(50)

    def worker(_: int) -> bool:
        gate.wait()
        try:
            hold = budget.reserve(Decimal("0.60"))  # 50 x 0.60 = 30.00: three times the budget
        except BudgetExceeded:
            return False
        hold.settle(Decimal("0.60"))
        return True

    with ThreadPoolExecutor(max_workers=50) as pool:
        results = list(pool.map(worker, range(50)))
    summary = _summary(pg_url, tenant_id)
    # spent + reserved only grows by 0.60 per accepted call, so exactly 16 fit in 10.00
    assert results.count(True) == 16
    assert results.count(False) == 34
    assert summary["month_spent_usd"] == Decimal("9.60")
    assert summary["month_reserved_usd"] == 0
    assert summary["day_spent_usd"] == Decimal("9.60")


def test_settle_releases_the_unused_reservation(pg_url: str) -> None:
    tenant_id, job_id = _tenant_and_job(pg_url, monthly="5.00", daily="3.00")
    hold = _budget(pg_url, tenant_id, job_id).reserve(Decimal("2.00"))
    during = _summary(pg_url, tenant_id)
    assert during["month_reserved_usd"] == Decimal("2.00")
    assert during["day_reserved_usd"] == Decimal("2.00")
    hold.settle(Decimal("0.25"))
    after = _summary(pg_url, tenant_id)
    assert after == {
        "monthly_budget_usd": Decimal("5.00"),
        "daily_budget_usd": Decimal("3.00"),
        "month_spent_usd": Decimal("0.25"),
        "month_reserved_usd": Decimal(0),
        "day_spent_usd": Decimal("0.25"),
        "day_reserved_usd": Decimal(0),
    }


def test_settle_twice_counts_once(pg_url: str) -> None:
    tenant_id, job_id = _tenant_and_job(pg_url, monthly="5.00")
    hold = _budget(pg_url, tenant_id, job_id).reserve(Decimal("1.00"))
    hold.settle(Decimal("0.40"))
    hold.settle(Decimal("0.40"))
    with session_scope(pg_url) as session:
        again = store.settle(
            session=session, reservation_id=hold.reservation_id, actual_usd=Decimal("0.90")
        )
    assert again is False
    summary = _summary(pg_url, tenant_id)
    assert summary["month_spent_usd"] == Decimal("0.40")
    assert summary["month_reserved_usd"] == 0


def test_daily_cap_rejects_before_monthly(pg_url: str) -> None:
    tenant_id, job_id = _tenant_and_job(pg_url, monthly="100.00", daily="1.00")
    budget = _budget(pg_url, tenant_id, job_id)
    budget.reserve(Decimal("0.80")).settle(Decimal("0.80"))
    with pytest.raises(BudgetExceeded) as raised:
        budget.reserve(Decimal("0.50"))
    message = raised.value.message
    assert "2026-11-23" in message
    assert "budget 1.000000" in message
    assert "spent 0.800000" in message
    assert "reserved 0.000000" in message
    assert "requested 0.500000" in message
    assert _summary(pg_url, tenant_id)["month_reserved_usd"] == 0  # nothing half-reserved
    tomorrow = PostgresBudget(
        tenant_id=tenant_id,
        job_id=job_id,
        url=pg_url,
        clock=lambda: NOW + dt.timedelta(days=1),
    )
    tomorrow.reserve(Decimal("0.50")).settle(Decimal("0.50"))
    assert _summary(pg_url, tenant_id)["month_spent_usd"] == Decimal("1.30")


def test_monthly_cap_rejects_a_reservation_that_would_cross_it(pg_url: str) -> None:
    tenant_id, job_id = _tenant_and_job(pg_url, monthly="1.00")
    budget = _budget(pg_url, tenant_id, job_id)
    budget.reserve(Decimal("0.70"))  # still open
    with pytest.raises(BudgetExceeded, match="2026-11 is exhausted"):
        budget.reserve(Decimal("0.31"))
    budget.reserve(Decimal("0.30"))  # exactly at the cap is allowed


def test_stale_reservations_are_released(pg_url: str) -> None:
    tenant_id, job_id = _tenant_and_job(pg_url, monthly="10.00")
    budget = _budget(pg_url, tenant_id, job_id)
    crashed = budget.reserve(Decimal("2.00"))
    with session_scope(pg_url) as session:  # the worker died an hour ago...
        session.execute(
            text(
                "UPDATE budget_reservations SET created_at = created_at - interval '1 hour' "
                "WHERE id = :id"
            ),
            {"id": crashed.reservation_id},
        )
    _ledger(pg_url, tenant_id, job_id, "0.30", seq=1)  # ...after billing two calls
    _ledger(pg_url, tenant_id, job_id, "0.20", seq=2)
    _, other_job = _tenant_and_job(pg_url, monthly="1.00")
    live = _budget(pg_url, tenant_id, other_job).reserve(Decimal("1.00"))  # fresh: kept

    with session_scope(pg_url) as session:
        released = store.release_stale(session=session, older_than=dt.timedelta(minutes=10))
    with session_scope(pg_url) as session:
        again = store.release_stale(session=session, older_than=dt.timedelta(minutes=10))
    assert (released, again) == (1, 0)
    summary = _summary(pg_url, tenant_id)
    assert summary["month_spent_usd"] == Decimal("0.50")
    assert summary["month_reserved_usd"] == Decimal("1.00")
    crashed.settle(Decimal("2.00"))  # a late settle from the "dead" worker counts nothing
    live.settle(Decimal("0.10"))
    assert _summary(pg_url, tenant_id)["month_spent_usd"] == Decimal("0.60")


def test_stale_release_charges_only_the_calls_made_under_that_reservation(
    pg_url: str,
) -> None:
    tenant_id, job_id = _tenant_and_job(pg_url, monthly="10.00")
    budget = _budget(pg_url, tenant_id, job_id)
    first = budget.reserve(Decimal("1.00"))
    _ledger(pg_url, tenant_id, job_id, "0.40", seq=1)
    first.settle(Decimal("0.40"))
    crashed = budget.reserve(Decimal("1.00"))
    _ledger(pg_url, tenant_id, job_id, "0.25", seq=2)
    with session_scope(pg_url) as session:
        session.execute(
            text(
                "UPDATE budget_reservations SET created_at = created_at - interval '1 hour' "
                "WHERE job_id = :job"
            ),
            {"job": job_id},
        )
        session.execute(
            text(
                "UPDATE llm_calls SET created_at = created_at - interval '1 hour' "
                "WHERE job_id = :job"
            ),
            {"job": job_id},
        )
    with session_scope(pg_url) as session:
        assert store.release_stale(session=session, older_than=dt.timedelta(minutes=10)) == 1
    with session_scope(pg_url) as session:
        assert not store.settle(
            session=session, reservation_id=crashed.reservation_id, actual_usd=Decimal(0)
        )
    assert _summary(pg_url, tenant_id)["month_spent_usd"] == Decimal("0.65")
