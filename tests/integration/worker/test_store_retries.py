"""The worker's writes survive a connection lost after the server committed (real Postgres).

Each fault is injected after the real statement ran, as when Postgres commits and the
connection drops before the answer arrives: the retry must not fence out its own finish,
nor write a second ledger row.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import psycopg
import pytest
from sqlalchemy import exc as sa_exc
from sqlalchemy import func, select

from schemas.config import DbRetryConfig, get_settings
from schemas.jobs import JobStatus
from storage import jobs as job_store
from storage import ledger
from storage.db import session_scope
from storage.ledger import CallRow
from storage.models import Job, LlmCall
from tasks.flow.budget import PostgresHold
from tasks.flow.budget.pending import PendingSettles
from tasks.worker import store as store_module
from tasks.worker.ports import Terminal
from tasks.worker.store import PostgresJobStore
from tests.integration.flow.budget_accounts import postgres_account, tenant_and_job

LOST = "server closed the connection unexpectedly"


def _lose_first_answer(real: Callable[..., Any]) -> Callable[..., Any]:
    """`real`, whose first call runs and then loses its answer."""
    calls = 0

    def flaky(**kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        result = real(**kwargs)
        if calls == 1:
            raise sa_exc.OperationalError("UPDATE", {}, psycopg.OperationalError(LOST))
        return result

    return flaky


def _running_job(pg_url: str) -> tuple[uuid.UUID, uuid.UUID, int]:
    tenant_id, job_id = tenant_and_job(pg_url, monthly="5.00")
    with session_scope(pg_url) as session:
        job = job_store.claim(session=session, job_id=job_id, worker="test:1", lease_s=60)
        assert job is not None
        return tenant_id, job_id, job.attempts


def test_a_finish_whose_answer_was_lost_is_retried_and_counts_as_written(
    pg_url: str, service_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, job_id, attempt = _running_job(pg_url)
    monkeypatch.setattr(job_store, "finish", _lose_first_answer(job_store.finish))
    done = Terminal(JobStatus.SUCCEEDED, {"ok": True}, "gpt-5.6-luna", 1)
    finished = PostgresJobStore().finish(job_id=job_id, attempt=attempt, outcome=done)
    assert finished is not None
    assert (finished.job.status, finished.job.attempts) == (JobStatus.SUCCEEDED, attempt)
    with session_scope(pg_url) as session:
        assert session.get(Job, job_id).status == JobStatus.SUCCEEDED  # type: ignore[union-attr]
    # a stale attempt is still fenced out, retry or not
    assert PostgresJobStore().finish(job_id=job_id, attempt=attempt - 1, outcome=done) is None


def test_a_ledger_row_whose_answer_was_lost_is_written_once(
    pg_url: str, service_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    tenant_id, job_id, attempt = _running_job(pg_url)
    monkeypatch.setattr(store_module, "record_call", _lose_first_answer(ledger.record_call))
    row = CallRow(
        job_id=job_id,
        tenant_id=tenant_id,
        attempt=attempt,
        seq=1,
        tier="low",
        provider="openai",
        model="gpt-5.6-luna",
        chunk=None,
        input_tokens=10,
        output_tokens=5,
        cached_tokens=0,
        cost_usd=Decimal("0.001"),
        latency_ms=12,
        outcome="ok",
        status_code=200,
    )
    PostgresJobStore().record_call(row=row)
    with session_scope(pg_url) as session:
        rows = session.execute(
            select(func.count()).select_from(LlmCall).where(LlmCall.job_id == job_id)
        ).scalar_one()
    assert rows == 1


def test_a_settle_that_outlasts_its_retries_is_kept_and_settled_when_postgres_answers(
    pg_url: str, service_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(get_settings().app, "db_retry", DbRetryConfig(max_wall_s=0.3))
    account = postgres_account(pg_url, monthly="5.00")
    hold = account.budget.reserve(Decimal("1.00"))
    assert isinstance(hold, PostgresHold)
    down = True

    def factory() -> Any:
        if down:  # a refused connection, like Postgres at max_connections
            raise sa_exc.OperationalError(
                "connect", {}, psycopg.OperationalError("FATAL: sorry, too many clients already")
            )
        return session_scope(pg_url, autocommit=True)

    pending = PendingSettles()
    stuck = PostgresHold(
        reservation_id=hold.reservation_id, session_factory=factory, pending=pending
    )
    stuck.settle(Decimal("0.25"))  # retried for max_wall_s, then kept: never raised
    assert len(pending) == 1
    assert account.summary()["month_reserved_usd"] == Decimal("1.00")
    down = False
    assert pending.drain_once() == 1
    summary = account.summary()
    assert summary["month_reserved_usd"] == 0
    assert summary["month_spent_usd"] == Decimal("0.25")
