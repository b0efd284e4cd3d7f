"""What only the Postgres budget can show: settlement in storage and crashed-worker recovery."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

from sqlalchemy import text

from storage import budget as store
from storage.db import session_scope
from tasks.flow.budget import PostgresBudget, PostgresHold
from tests.integration.flow.budget_accounts import NOW, ledger, pg_summary, tenant_and_job


def _budget(pg_url: str, tenant_id: uuid.UUID, job_id: uuid.UUID) -> PostgresBudget:
    return PostgresBudget(tenant_id=tenant_id, job_id=job_id, url=pg_url, clock=lambda: NOW)


def test_a_settled_reservation_is_not_settled_again_by_storage(pg_url: str) -> None:
    tenant_id, job_id = tenant_and_job(pg_url, monthly="5.00")
    hold = _budget(pg_url, tenant_id, job_id).reserve(Decimal("1.00"))
    hold.settle(Decimal("0.40"))
    with session_scope(pg_url) as session:
        again = store.settle(
            session=session, reservation_id=hold.reservation_id, actual_usd=Decimal("0.90")
        )
    assert again is False
    summary = pg_summary(pg_url, tenant_id)
    assert summary["month_spent_usd"] == Decimal("0.40")
    assert summary["month_reserved_usd"] == 0


def test_stale_reservations_are_released(pg_url: str) -> None:
    tenant_id, job_id = tenant_and_job(pg_url, monthly="10.00")
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
    ledger(pg_url, tenant_id, job_id, "0.30", seq=1)  # ...after billing two calls
    ledger(pg_url, tenant_id, job_id, "0.20", seq=2)
    _, other_job = tenant_and_job(pg_url, monthly="1.00")
    live = _budget(pg_url, tenant_id, other_job).reserve(Decimal("1.00"))  # fresh: kept

    with session_scope(pg_url) as session:
        released = store.release_stale(session=session, older_than=dt.timedelta(minutes=10))
    with session_scope(pg_url) as session:
        again = store.release_stale(session=session, older_than=dt.timedelta(minutes=10))
    assert (released, again) == (1, 0)
    summary = pg_summary(pg_url, tenant_id)
    assert summary["month_spent_usd"] == Decimal("0.50")
    assert summary["month_reserved_usd"] == Decimal("1.00")
    crashed.settle(Decimal("2.00"))  # a late settle from the "dead" worker counts nothing
    live.settle(Decimal("0.10"))
    assert pg_summary(pg_url, tenant_id)["month_spent_usd"] == Decimal("0.60")


def test_stale_release_charges_only_the_calls_made_under_that_reservation(
    pg_url: str,
) -> None:
    tenant_id, job_id = tenant_and_job(pg_url, monthly="10.00")
    budget = _budget(pg_url, tenant_id, job_id)
    first = budget.reserve(Decimal("1.00"))
    ledger(pg_url, tenant_id, job_id, "0.40", seq=1)
    first.settle(Decimal("0.40"))
    crashed = budget.reserve(Decimal("1.00"))
    ledger(pg_url, tenant_id, job_id, "0.25", seq=2)
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
    assert pg_summary(pg_url, tenant_id)["month_spent_usd"] == Decimal("0.65")


def test_a_database_failure_while_settling_is_logged_not_raised(pg_url: str) -> None:
    tenant_id, job_id = tenant_and_job(pg_url, monthly="5.00")
    hold = _budget(pg_url, tenant_id, job_id).reserve(Decimal("1.00"))
    unreachable = PostgresHold(
        reservation_id=hold.reservation_id,
        session_factory=lambda: session_scope("postgresql+psycopg://nobody@127.0.0.1:1/none"),
    )
    unreachable.settle(Decimal("0.10"))  # the engine settles in `finally`: must not raise
    # still open, for `release_stale` to settle from the ledger later
    assert pg_summary(pg_url, tenant_id)["month_reserved_usd"] == Decimal("1.00")
