"""Job storage verbs on real Postgres: keyset pages, scrape-time state, the jobs NOTIFY."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from decimal import Decimal

import psycopg
import pytest

from schemas.jobs import JobStatus
from storage import batches as batch_store
from storage import bulk, pages, state
from storage import jobs as job_store
from storage.budget import periods
from storage.db import JOBS_CHANNEL, session_scope
from storage.models import TenantSpend
from storage.rows import Cursor
from storage.tenants import create_tenant

NOW = dt.datetime.now(dt.UTC)


def _tenant(pg_url: str, *, daily: Decimal | None = None) -> uuid.UUID:
    with session_scope(pg_url) as session:
        tenant = create_tenant(
            session=session,
            name=f"verbs-{uuid.uuid4().hex[:8]}",
            monthly_budget_usd=Decimal(10),
            daily_budget_usd=daily,
            concurrency=4,
        )
        return tenant.id


def _rows(tenant_id: uuid.UUID, n: int, *, tier: str = "low") -> list[job_store.NewJob]:
    return [
        job_store.NewJob(
            tenant_id=tenant_id,
            schema_name="invoice",
            schema_version="1",
            prompt_version="1",
            tier=tier,
            tier_reason="test",
            document_sha256=None,
            status=JobStatus.FAILED if i % 5 == 4 else JobStatus.QUEUED,
        )
        for i in range(n)
    ]


def test_keyset_pages_list_every_job_once_even_when_all_share_a_created_at(pg_url: str) -> None:
    tenant_id = _tenant(pg_url)
    with session_scope(pg_url) as session:  # one transaction: one created_at for all 25
        assert bulk.insert_jobs(session=session, rows=_rows(tenant_id, 25)) == 25
    seen: list[uuid.UUID] = []
    after: Cursor | None = None
    sizes = []
    while True:
        with session_scope(pg_url) as session:
            page = pages.list_jobs(session=session, tenant_id=tenant_id, limit=10, after=after)
        seen += [job.id for job in page.jobs]
        sizes.append(len(page.jobs))
        if page.next_cursor is None:
            break
        after = page.next_cursor
    assert sizes == [10, 10, 5]
    assert len(set(seen)) == 25
    with session_scope(pg_url) as session:
        failed = pages.list_jobs(
            session=session, tenant_id=tenant_id, limit=100, status=JobStatus.FAILED
        )
    assert len(failed.jobs) == 5
    assert {job.status for job in failed.jobs} == {JobStatus.FAILED}
    assert failed.next_cursor is None


def test_another_tenants_jobs_are_never_listed(pg_url: str) -> None:
    mine, theirs = _tenant(pg_url), _tenant(pg_url)
    with session_scope(pg_url) as session:
        bulk.insert_jobs(session=session, rows=_rows(theirs, 3))
        page = pages.list_jobs(session=session, tenant_id=mine, limit=10)
    assert list(page.jobs) == []
    assert page.next_cursor is None


def test_job_counts_count_new_queued_jobs_with_the_age_of_the_oldest(pg_url: str) -> None:
    def queued_high() -> tuple[int, float | None]:
        with session_scope(pg_url) as session:
            found = [
                c
                for c in state.job_counts(session=session)
                if (c.tier, c.status) == ("high", "queued")
            ]
        return (found[0].count, found[0].oldest_queued_s) if found else (0, None)

    before, _ = queued_high()
    with session_scope(pg_url) as session:
        bulk.insert_jobs(session=session, rows=_rows(_tenant(pg_url), 4, tier="high"))
    after, oldest = queued_high()
    assert after == before + 4  # 4 of the 5 rows are queued, one failed at submission
    assert oldest is not None
    assert oldest >= 0


def test_budget_use_pairs_each_periods_spend_with_its_own_budget(pg_url: str) -> None:
    tenant_id = _tenant(pg_url, daily=Decimal(2))
    month, day = periods(NOW)
    with session_scope(pg_url) as session:
        session.add_all(
            [
                TenantSpend(tenant_id=tenant_id, period=month, spent_usd=Decimal(3)),
                TenantSpend(
                    tenant_id=tenant_id,
                    period=day,
                    spent_usd=Decimal("0.5"),
                    reserved_usd=Decimal("1.5"),
                ),
            ]
        )
    with session_scope(pg_url) as session:
        uses = state.budget_use(session=session, now=NOW)
    theirs = sorted(
        (u.period, u.used_usd, u.budget_usd)
        for u in uses
        if (u.period, u.budget_usd) in (("month", Decimal(10)), ("day", Decimal(2)))
    )
    assert ("day", Decimal("2.0"), Decimal(2)) in theirs
    assert ("month", Decimal(3), Decimal(10)) in theirs


@pytest.fixture
def listener(pg_url: str) -> Iterator[psycopg.Connection[tuple[object, ...]]]:
    """A connection LISTENing on the jobs channel, as the scheduler does."""
    conn = psycopg.connect(pg_url.replace("+psycopg", ""), autocommit=True)
    conn.execute(f"LISTEN {JOBS_CHANNEL}")
    yield conn
    conn.close()


def _woken(conn: psycopg.Connection[tuple[object, ...]]) -> int:
    return sum(1 for _ in conn.notifies(timeout=0.5, stop_after=10))


def test_queueing_jobs_wakes_the_dispatcher_once_the_transaction_commits(
    pg_url: str, listener: psycopg.Connection[tuple[object, ...]]
) -> None:
    tenant_id = _tenant(pg_url)
    with session_scope(pg_url) as session:
        job_store.create_job(session=session, new=_rows(tenant_id, 1)[0])
        assert _woken(listener) == 0  # not before the commit
    assert _woken(listener) >= 1
    with session_scope(pg_url) as session:
        bulk.insert_jobs(session=session, rows=_rows(tenant_id, 2))
    assert _woken(listener) >= 1
    with session_scope(pg_url) as session:
        batch = batch_store.open_batch(
            session=session,
            tenant_id=tenant_id,
            schema_name="invoice",
            tier="low",
            webhook_url=None,
            key=None,
        )
        batch_store.add_jobs(session=session, batch_id=batch.id, rows=_rows(tenant_id, 2))
    assert _woken(listener) >= 1
    with session_scope(pg_url) as session:
        batch_store.cancel(session=session, batch=batch)
    assert _woken(listener) >= 1
