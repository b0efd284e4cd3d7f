"""A job's finish on real Postgres: one statement, and what it writes, wakes and owes.

Issue 14: the terminal state, the NOTIFY and any owed `job.finished` delivery go in one
statement; only a batch with a webhook costs the batch check after it.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import psycopg
import pytest
from sqlalchemy import func, literal, select, text
from sqlalchemy.dialects.postgresql import TIMESTAMP

from schemas.jobs import ErrorType, JobStatus
from storage import bulk
from storage import jobs as job_store
from storage import webhooks as webhook_store
from storage.db import JOBS_CHANNEL, session_scope
from storage.finishes import _isoformat
from storage.ledger import CallRow, record_call
from storage.models import Batch, Job
from storage.webhook_models import WebhookDelivery
from tasks.worker import finished as finished_module
from tasks.worker.ports import Terminal
from tasks.worker.store import PostgresJobStore
from tests.integration.storage.ends_seed import running_job
from tests.support.pg_count import counting
from tests.support.store_seed import new_job, tenant_with_jobs

DONE = Terminal(JobStatus.SUCCEEDED, {"ok": True}, "gpt-5.6-luna", 1)


@pytest.fixture
def listener(pg_url: str) -> Iterator[psycopg.Connection[tuple[object, ...]]]:
    """A connection LISTENing on the jobs channel, as the scheduler does."""
    conn = psycopg.connect(pg_url.replace("+psycopg", ""), autocommit=True)
    conn.execute(f"LISTEN {JOBS_CHANNEL}")
    yield conn
    conn.close()


@pytest.fixture
def published(monkeypatch: pytest.MonkeyPatch) -> list[uuid.UUID]:
    """The delivery ids on_job_finished publishes (kept here, not sent to a broker)."""
    sent: list[uuid.UUID] = []

    def publish(ids: Any) -> None:
        sent.extend(i for i in ids if i is not None)

    monkeypatch.setattr(finished_module, "publish_webhooks", publish)
    return sent


def _woken(conn: psycopg.Connection[tuple[object, ...]]) -> int:
    return sum(1 for _ in conn.notifies(timeout=0.5, stop_after=10))


def _deliveries(pg_url: str, job_id: uuid.UUID) -> list[WebhookDelivery]:
    with session_scope(pg_url) as session:
        found = session.scalars(select(WebhookDelivery).where(WebhookDelivery.job_id == job_id))
        return list(found)


def test_a_finish_without_webhooks_is_one_statement_and_wakes_the_scheduler(
    pg_url: str,
    service_env: dict[str, str],
    listener: psycopg.Connection[tuple[object, ...]],
    published: list[uuid.UUID],
) -> None:
    job_id, attempt = running_job(pg_url, batch=True)  # a batch without a webhook
    _woken(listener)  # what the seeding woke
    store = PostgresJobStore()
    with counting(pg_url) as sent:
        done = store.finish(job_id=job_id, attempt=attempt, outcome=DONE)
        assert done is not None
        store.on_finished(finished=done)
    assert sent.count == 1, sent.statements
    assert (done.job.status, done.job.model, done.job.finished_at is not None) == (
        JobStatus.SUCCEEDED,
        "gpt-5.6-luna",
        True,
    )
    assert (done.delivery_id, done.batch_webhook, published) == (None, False, [])
    assert _woken(listener) == 1


def test_a_fenced_finish_writes_nothing_and_wakes_nobody(
    pg_url: str, service_env: dict[str, str], listener: psycopg.Connection[tuple[object, ...]]
) -> None:
    job_id, attempt = running_job(pg_url, webhook="https://hooks.example.com/in")
    _woken(listener)
    assert PostgresJobStore().finish(job_id=job_id, attempt=attempt + 1, outcome=DONE) is None
    with session_scope(pg_url) as session:
        job = job_store.load_job(session=session, job_id=job_id)
        assert job is not None
        assert (job.status, job.result, job.finished_at) == (JobStatus.RUNNING, None, None)
    assert _woken(listener) == 0
    assert _deliveries(pg_url, job_id) == []


def test_a_finish_with_a_job_webhook_owes_one_delivery_with_job_payloads_body(
    pg_url: str, service_env: dict[str, str], published: list[uuid.UUID]
) -> None:
    job_id, attempt = running_job(pg_url, webhook="https://hooks.example.com/in", batch=True)
    with session_scope(pg_url) as session:
        job = job_store.load_job(session=session, job_id=job_id)
        assert job is not None
        record_call(session=session, row=_call(job, attempt))
    failed = Terminal(
        JobStatus.FAILED, error_type=ErrorType.PROVIDER_ERROR, error_message="upstream 503"
    )
    store = PostgresJobStore()
    done = store.finish(job_id=job_id, attempt=attempt, outcome=failed)
    assert done is not None
    assert done.delivery_id is not None
    store.on_finished(finished=done)
    (owed,) = _deliveries(pg_url, job_id)
    assert (owed.id, owed.event, owed.url, owed.status) == (
        done.delivery_id,
        "job.finished",
        "https://hooks.example.com/in",
        "pending",
    )
    assert owed.dedupe_key == f"job.finished:{job_id}:{attempt}"
    with session_scope(pg_url) as session:
        reread = job_store.load_job(session=session, job_id=job_id)
        assert reread is not None
        assert owed.payload == webhook_store.job_payload(reread)
    assert owed.payload["usage"]["cost_usd"] == "0.001250"
    assert published == [done.delivery_id]


def test_a_retried_finish_whose_first_try_landed_returns_its_row_and_owes_nothing_more(
    pg_url: str, service_env: dict[str, str]
) -> None:
    job_id, attempt = running_job(pg_url, webhook="https://hooks.example.com/in")
    with session_scope(pg_url, autocommit=True) as session:
        first = job_store.finish(
            session=session, job_id=job_id, attempt=attempt, status=JobStatus.SUCCEEDED
        )
        again = job_store.finish(
            session=session, job_id=job_id, attempt=attempt, status=JobStatus.SUCCEEDED
        )
        found = job_store.landed(
            session=session, job_id=job_id, attempt=attempt, status=JobStatus.SUCCEEDED
        )
        stale = job_store.landed(
            session=session, job_id=job_id, attempt=attempt - 1, status=JobStatus.SUCCEEDED
        )
    assert first is not None
    assert again is None
    assert stale is None
    assert found is not None
    assert found.delivery_id == first.delivery_id
    assert found.job.finished_at == first.job.finished_at
    assert len(_deliveries(pg_url, job_id)) == 1


def test_a_batch_with_a_webhook_is_owed_batch_finished_when_its_last_job_finishes(
    pg_url: str, service_env: dict[str, str], published: list[uuid.UUID]
) -> None:
    tenant_id, _ = tenant_with_jobs(pg_url, prefix="ends", n=0)
    with session_scope(pg_url) as session:
        batch = Batch(
            tenant_id=tenant_id,
            schema_name="invoice",
            tier="low",
            total=2,
            webhook_url="https://hooks.example.com/batch",
            meta={},
        )
        session.add(batch)
        session.flush()
        batch_id = batch.id
        bulk.insert_jobs(session=session, batch_id=batch_id, rows=[new_job(tenant_id)] * 2)
        job_ids = list(session.scalars(select(Job.id).where(Job.batch_id == batch_id)))
    store = PostgresJobStore()
    owed: list[int] = []
    for job_id in job_ids:
        claimed = store.claim(job_id=job_id, worker="test:1", lease_s=60)
        assert claimed is not None
        done = store.finish(job_id=job_id, attempt=claimed[0].attempts, outcome=DONE)
        assert done is not None
        assert done.batch_webhook
        assert done.delivery_id is None
        store.on_finished(finished=done)
        with session_scope(pg_url) as session:
            owed.append(
                session.scalar(
                    select(func.count())
                    .select_from(WebhookDelivery)
                    .where(WebhookDelivery.batch_id == batch_id)
                )
                or 0
            )
    assert owed == [0, 1]  # not while a job is still running; once when the last ends
    assert len(published) == 1


@pytest.mark.parametrize(
    "zone", ["UTC", "Europe/Berlin", "Asia/Kolkata", "America/St_Johns", "Pacific/Chatham"]
)
def test_the_payloads_timestamps_are_written_as_pythons_isoformat_in_any_session_zone(
    pg_url: str, zone: str
) -> None:
    instants = [
        dt.datetime(2026, 1, 5, 9, 30, 0, tzinfo=dt.UTC),
        dt.datetime(2026, 7, 5, 23, 59, 59, 120, tzinfo=dt.UTC),
        dt.datetime(2026, 3, 29, 1, 0, 0, 999999, tzinfo=dt.UTC),
    ]
    with session_scope(pg_url) as session:
        session.execute(text(f"SET LOCAL TIME ZONE '{zone}'"))
        for instant in instants:
            value = literal(instant, TIMESTAMP(timezone=True))
            as_python, as_sql = session.execute(select(value, _isoformat(value))).one()
            assert as_sql == as_python.isoformat()


def _call(job: Job, attempt: int) -> CallRow:
    return CallRow(
        job_id=job.id,
        tenant_id=job.tenant_id,
        attempt=attempt,
        seq=1,
        tier="low",
        provider="openai",
        model="gpt-5.6-luna",
        chunk=None,
        input_tokens=1200,
        output_tokens=80,
        cached_tokens=0,
        cost_usd=Decimal("0.00125"),
        latency_ms=40,
        outcome="error",
        status_code=503,
    )
