"""A single-call job's cost in round trips: at most 4 Postgres statements and 3 Redis trips.

The worker core runs in this process (`process_job` over the production runtime, on a
stack of simulator and API only: no scheduler and no worker take the jobs), so every
statement is seen by SQLAlchemy's `before_cursor_execute` and every Redis send by a
counting connection. Celery's own traffic (the message, the ack, events) is not part of
this path, as the issue's budget says.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import Connection, event

from schemas.config import get_settings
from schemas.jobs import JobStatus
from storage.db import get_engine
from storage.models import Job
from tasks.worker.process import Disposition, process_job
from tasks.worker.runtime import Runtime, build_runtime
from tests.support.pg_count import counting
from tests.support.redis_count import RoundTrips
from tests.support.stacks import LiveStack, StackFactory

pytestmark = pytest.mark.e2e

INVOICE = """ACME Tools GmbH, Hauptstrasse 1, Berlin. Invoice INV-{n} dated 2026-03-01.
Bill to: Globex Corp. 3 x hammer at 12.50 EUR. Payment due 2026-03-31."""
PG_LIMIT, REDIS_LIMIT = 4, 3


@pytest.fixture(scope="module")
def stack(stack_factory: StackFactory) -> Iterator[LiveStack]:
    """Simulator and API only: the jobs stay queued until this process runs them."""
    live = stack_factory(name="trips", workers=[], scheduler=False)
    yield live
    live.close()


@pytest.fixture
def trips() -> RoundTrips:
    """The counter behind the runtime's Redis client."""
    return RoundTrips()


@pytest.fixture
def runtime(
    stack: LiveStack, trips: RoundTrips, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Runtime]:
    """The production runtime on the stack's services, its Redis client counted."""
    for key, value in stack.env.items():
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()
    made = build_runtime(get_settings(), client=trips.client(stack.redis_url))
    yield made
    made.close()
    get_settings.cache_clear()


def _queued(stack: LiveStack, n: int) -> uuid.UUID:
    with stack.client(stack.alice) as client:
        created = client.post("/v1/jobs", json={"schema": "invoice", "text": INVOICE.format(n=n)})
    assert created.status_code == 202, created.text
    return uuid.UUID(created.json()["id"])


@contextmanager
def _transactions(url: str) -> Iterator[list[str]]:
    """Transactions outside autocommit: each costs a BEGIN and a COMMIT round trip more."""
    seen: list[str] = []

    def commit(conn: Connection) -> None:
        if conn.get_execution_options().get("isolation_level") != "AUTOCOMMIT":
            seen.append("BEGIN+COMMIT")

    engine = get_engine(url)
    event.listen(engine, "commit", commit)
    try:
        yield seen
    finally:
        event.remove(engine, "commit", commit)


def test_a_single_call_job_makes_at_most_four_statements_and_three_redis_round_trips(
    stack: LiveStack, runtime: Runtime, trips: RoundTrips
) -> None:
    # The first job pays what happens once: connections, this month's spend rows.
    warm = _queued(stack, 1)
    assert process_job(job_id=warm, runtime=runtime).disposition is Disposition.DONE
    job_id = _queued(stack, 2)
    trips.reset()
    with counting(stack.db_url) as sent, _transactions(stack.db_url) as seen:
        processed = process_job(job_id=job_id, runtime=runtime)
    assert processed.disposition is Disposition.DONE
    with stack.session() as session:
        job = session.get(Job, job_id)
        assert job is not None
        assert (job.status, job.chunks) == (JobStatus.SUCCEEDED, 1)
    statements = sent.count + 2 * len(seen)
    assert statements <= PG_LIMIT, sent.statements + seen
    assert trips.count <= REDIS_LIMIT, trips.sent
