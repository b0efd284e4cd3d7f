"""Batch listing verbs on real Postgres: derived status in SQL and Python, keyset pages, counts."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import event, update
from sqlalchemy.orm import Session

from schemas.jobs import JobStatus
from storage import batch_pages
from storage import batches as batch_store
from storage.db import session_scope
from storage.models import Batch, Job
from storage.rows import Cursor
from storage.tenants import create_tenant
from tests.support.store_seed import new_job

Q, R, S = JobStatus.QUEUED, JobStatus.RUNNING, JobStatus.SUCCEEDED
F, C = JobStatus.FAILED, JobStatus.CANCELLED
# name: (job statuses, cancelled?, the status the batch must show)
SHAPES: dict[str, tuple[tuple[JobStatus, ...], bool, str]] = {
    "all_queued": ((Q, Q), False, "queued"),
    "one_running": ((R, Q), False, "running"),
    "one_done_rest_queued": ((S, Q, Q), False, "running"),
    "all_done": ((S, F, C), False, "finished"),
    "no_jobs": ((), False, "finished"),  # a batch of only duplicates
    "cancelled_while_running": ((R, C), True, "cancelled"),
    "cancelled_and_done": ((C, C), True, "cancelled"),
}


def _tenant(pg_url: str) -> uuid.UUID:
    with session_scope(pg_url) as session:
        return create_tenant(
            session=session,
            name=f"listing-{uuid.uuid4().hex[:8]}",
            monthly_budget_usd=Decimal(10),
            concurrency=4,
        ).id


def _batch(pg_url: str, tenant_id: uuid.UUID, statuses: tuple[JobStatus, ...]) -> uuid.UUID:
    """A batch (own transaction: its own created_at) holding jobs in `statuses`."""
    with session_scope(pg_url) as session:
        batch = batch_store.open_batch(
            session=session,
            tenant_id=tenant_id,
            schema_name="invoice@1",
            tier="low",
            webhook_url=None,
            key=None,
        )
        rows = [new_job(tenant_id, status=status) for status in statuses]
        batch_store.add_jobs(session=session, batch_id=batch.id, rows=rows)
        return batch.id


@pytest.fixture(scope="module")
def shaped(pg_url: str) -> tuple[uuid.UUID, dict[str, uuid.UUID]]:
    """A tenant with one batch of every shape, created oldest to newest in SHAPES order."""
    tenant_id = _tenant(pg_url)
    ids = {name: _batch(pg_url, tenant_id, jobs) for name, (jobs, _, _) in SHAPES.items()}
    with session_scope(pg_url) as session:
        cancelled = [ids[n] for n, (_, gone, _) in SHAPES.items() if gone]
        session.execute(
            update(Batch)
            .where(Batch.id.in_(cancelled))
            .values(cancelled_at=dt.datetime.now(dt.UTC))
        )
    return tenant_id, ids


def _page(pg_url: str, tenant_id: uuid.UUID, **kwargs: Any) -> batch_pages.BatchPage:
    with session_scope(pg_url) as session:
        return batch_pages.list_batches(
            session=session, tenant_id=tenant_id, limit=kwargs.pop("limit", 200), **kwargs
        )


@pytest.mark.parametrize("status", batch_pages.STATUSES)
def test_the_status_filter_selects_exactly_the_batches_that_show_that_status(
    pg_url: str, shaped: tuple[uuid.UUID, dict[str, uuid.UUID]], status: str
) -> None:
    tenant_id, ids = shaped
    listed = {b.id for b in _page(pg_url, tenant_id, status=status).batches}
    expected = {ids[n] for n, (_, _, shown) in SHAPES.items() if shown == status}
    assert listed == expected
    with session_scope(pg_url) as session:
        batches = batch_pages.list_batches(session=session, tenant_id=tenant_id, limit=50).batches
        summaries = batch_store.summarize_many(session=session, batches=batches)
    shown = {b.id for b in batches if summaries[b.id].status == status}
    assert shown == expected  # the SQL filter and the Python derivation agree


@contextmanager
def _statements(session: Session) -> Iterator[list[str]]:
    """The SQL statements `session` sends while the block runs."""
    sent: list[str] = []

    def record(*args: Any) -> None:
        sent.append(str(args[2]))

    engine = session.get_bind()
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield sent
    finally:
        event.remove(engine, "before_cursor_execute", record)


def test_a_page_of_batches_is_counted_by_one_grouped_query(
    pg_url: str, shaped: tuple[uuid.UUID, dict[str, uuid.UUID]]
) -> None:
    tenant_id, ids = shaped
    with session_scope(pg_url) as session:
        batches = batch_pages.list_batches(session=session, tenant_id=tenant_id, limit=50).batches
        batch_store.summarize_many(session=session, batches=batches)  # settles finished_at
        with _statements(session) as sent:
            summaries = batch_store.summarize_many(session=session, batches=batches)
    assert len(batches) == len(SHAPES)
    assert len(sent) == 1, sent
    assert sent[0].lstrip().upper().startswith("SELECT")
    done = summaries[ids["all_done"]]
    assert done.counts == {"queued": 0, "running": 0, "succeeded": 1, "failed": 1, "cancelled": 1}
    assert (done.total, done.progress, done.finished_at is not None) == (3, 1.0, True)
    partial = summaries[ids["one_done_rest_queued"]]
    assert (partial.counts["succeeded"], partial.counts["queued"]) == (1, 2)
    assert (partial.progress, partial.finished_at) == (round(1 / 3, 6), None)
    empty = summaries[ids["no_jobs"]]
    assert (empty.total, empty.progress, empty.finished_at is not None) == (0, 1.0, True)


def test_finished_at_is_stored_when_a_listed_batch_ends_and_cleared_when_it_reopens(
    pg_url: str,
) -> None:
    tenant_id = _tenant(pg_url)
    done, open_ = _batch(pg_url, tenant_id, (S, S)), _batch(pg_url, tenant_id, (Q,))
    with session_scope(pg_url) as session:
        batches = [
            batch_store.get_batch(session=session, tenant_id=tenant_id, batch_id=b)
            for b in (done, open_)
        ]
        first = batch_store.summarize_many(session=session, batches=batches)
    with session_scope(pg_url) as session:
        stored = session.get(Batch, done)
        assert stored is not None
        assert stored.finished_at == first[done].finished_at
        assert first[open_].finished_at is None
        # A retry reopens it: only this batch flips, to NULL (an all-NULL VALUES column).
        session.execute(update(Job).where(Job.batch_id == done).values(status=Q, finished_at=None))
    with session_scope(pg_url) as session:
        batches = [batch_store.get_batch(session=session, tenant_id=tenant_id, batch_id=done)]
        again = batch_store.summarize_many(session=session, batches=batches)
        assert batches[0].finished_at is None  # the loaded row agrees, nothing left to flush
        assert not session.dirty
    with session_scope(pg_url) as session:
        reopened = session.get(Batch, done)
        assert reopened is not None
        assert reopened.finished_at is None
    assert (again[done].finished_at, again[done].status) == (None, "queued")


def test_keyset_pages_list_every_batch_once_newest_first_even_with_one_created_at(
    pg_url: str,
) -> None:
    tenant_id = _tenant(pg_url)
    with session_scope(pg_url) as session:  # one transaction: one created_at for all seven
        for _ in range(7):
            batch_store.open_batch(
                session=session,
                tenant_id=tenant_id,
                schema_name="invoice@1",
                tier="low",
                webhook_url=None,
                key=None,
            )
    seen: list[uuid.UUID] = []
    sizes = []
    before: Cursor | None = None
    for _ in range(10):
        page = _page(pg_url, tenant_id, limit=3, before=before)
        seen += [b.id for b in page.batches]
        sizes.append(len(page.batches))
        before = page.next_cursor
        if before is None:
            break
    everything = _page(pg_url, tenant_id).batches
    assert sizes == [3, 3, 1]
    assert seen == [b.id for b in everything]
    assert len(set(seen)) == 7
    assert seen == sorted(seen, reverse=True)  # one created_at: id breaks the tie, descending


def test_created_bounds_are_exclusive_and_other_tenants_batches_never_appear(
    pg_url: str, shaped: tuple[uuid.UUID, dict[str, uuid.UUID]]
) -> None:
    tenant_id, ids = shaped
    newest_first = list(_page(pg_url, tenant_id).batches)
    assert [b.id for b in newest_first] == list(reversed(ids.values()))
    middle = newest_first[3]
    newer = _page(pg_url, tenant_id, created_after=middle.created_at).batches
    older = _page(pg_url, tenant_id, created_before=middle.created_at).batches
    assert [b.id for b in newer] == [b.id for b in newest_first[:3]]
    assert [b.id for b in older] == [b.id for b in newest_first[4:]]
    assert _page(pg_url, _tenant(pg_url)).batches == []
    stranger = _tenant(pg_url)
    _batch(pg_url, stranger, (Q,))
    assert not {b.id for b in _page(pg_url, stranger).batches} & set(ids.values())
