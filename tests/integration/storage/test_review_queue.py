"""The review queue on real Postgres: page order and filters, counts, labels, batch tallies."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.orm import Session

from schemas.jobs import JobStatus
from storage import batches as batch_store
from storage import reviews
from storage.db import session_scope
from storage.models import Job
from storage.rows import Cursor
from tests.integration.storage.review_seed import seed_job, tenant

T0 = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
WHO = reviews.Reviewer("abcd1234", None)


def _batch(session: Session, tenant_id: uuid.UUID) -> uuid.UUID:
    return batch_store.open_batch(
        session=session,
        tenant_id=tenant_id,
        schema_name="invoice@1",
        tier="low",
        webhook_url=None,
        key=None,
    ).id


def _pass(_job: Job, result: dict[str, Any]) -> dict[str, Any]:
    return result


def _all_pages(
    pg_url: str, tenant_id: uuid.UUID, limit: int, **filters: Any
) -> list[list[uuid.UUID]]:
    pages: list[list[uuid.UUID]] = []
    after: Cursor | None = None
    while True:
        with session_scope(pg_url) as session:
            page = reviews.pending_page(
                session=session, tenant_id=tenant_id, limit=limit, after=after, **filters
            )
        pages.append([job.id for job in page.rows])
        if page.next_cursor is None:
            return pages
        after = page.next_cursor


@contextmanager
def _selects(session: Session) -> Iterator[list[tuple[str, Any]]]:
    """The SELECTs the session sends meanwhile, with their parameters."""
    seen: list[tuple[str, Any]] = []

    def count(_c: Any, _cur: Any, statement: str, params: Any, *_rest: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            seen.append((statement, params))

    engine = session.get_bind()
    event.listen(engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", count)


def test_pending_jobs_page_oldest_first_each_once_even_with_shared_timestamps(
    pg_url: str,
) -> None:
    with session_scope(pg_url) as session:
        tenant_id, _ = tenant(session)
        stamps = [T0 + dt.timedelta(seconds=i // 2) for i in range(7)]  # pairs share one
        made = [seed_job(session, tenant_id, created_at=s) for s in reversed(stamps)]
        seed_job(session, tenant_id, review_state="not_needed")
        seed_job(session, tenant_id, review_state="approved")
    pages = _all_pages(pg_url, tenant_id, 3)
    assert [len(p) for p in pages] == [3, 3, 1]
    seen = [job_id for page in pages for job_id in page]
    assert set(seen) == set(made)
    assert len(seen) == len(made)
    with session_scope(pg_url) as session:
        stamps_seen = [session.get(Job, j).created_at for j in seen]  # type: ignore[union-attr]
    assert stamps_seen == sorted(stamps_seen)


def test_the_queue_filters_by_batch_and_extractor_and_counts_what_is_left(pg_url: str) -> None:
    with session_scope(pg_url) as session:
        tenant_id, _ = tenant(session)
        batch_id = _batch(session, tenant_id)
        in_batch = [seed_job(session, tenant_id, batch_id=batch_id) for _ in range(3)]
        resume = seed_job(session, tenant_id, schema_name="resume")
        seed_job(session, tenant_id)
        other, _ = tenant(session)
        seed_job(session, other, batch_id=None)
    assert _all_pages(pg_url, tenant_id, 10, batch_id=batch_id) == [sorted_by_created(in_batch)]
    assert _all_pages(pg_url, tenant_id, 10, extractor="resume") == [[resume]]
    with session_scope(pg_url) as session:
        assert reviews.count_pending(session=session, tenant_id=tenant_id) == 5
        assert reviews.count_pending(session=session, tenant_id=tenant_id, batch_id=batch_id) == 3
        assert reviews.count_pending(session=session, tenant_id=tenant_id, extractor="resume") == 1
        reviews.review(
            session=session,
            tenant_id=tenant_id,
            job_id=in_batch[0],
            corrections={},
            reviewer=WHO,
            check=_pass,
        )
    with session_scope(pg_url) as session:
        assert reviews.count_pending(session=session, tenant_id=tenant_id, batch_id=batch_id) == 2


def sorted_by_created(ids: list[uuid.UUID]) -> list[uuid.UUID]:
    """Jobs made in one transaction share created_at: the keyset order is then by id."""
    return sorted(ids)


def test_the_pending_query_can_use_the_partial_review_index(pg_url: str) -> None:
    with session_scope(pg_url) as session:
        tenant_id, _ = tenant(session)
        seed_job(session, tenant_id)
        with _selects(session) as selects:
            reviews.pending_page(session=session, tenant_id=tenant_id, limit=50)
        [(statement, params)] = selects
        session.execute(text("SET LOCAL enable_seqscan = off"))  # a tiny table scans otherwise
        plan = session.connection().exec_driver_sql("EXPLAIN " + statement, params).all()
    assert "ix_jobs_review_pending" in " ".join(str(row[0]) for row in plan)


def test_labels_are_the_reviewed_jobs_of_one_extractor_with_when_they_were_reviewed(
    pg_url: str,
) -> None:
    with session_scope(pg_url) as session:
        tenant_id, _ = tenant(session)
        approved = seed_job(session, tenant_id, key="doc:a-1", filename="a.pdf")
        corrected = seed_job(session, tenant_id)
        seed_job(session, tenant_id)  # still pending
        seed_job(session, tenant_id, review_state="not_needed")
        seed_job(session, tenant_id, schema_name="resume", review_state="approved")
    for job_id, corrections in ((approved, {}), (corrected, {"/invoice_number": "INV-1"})):
        with session_scope(pg_url) as session:
            reviews.review(
                session=session,
                tenant_id=tenant_id,
                job_id=job_id,
                corrections=corrections,
                reviewer=WHO,
                check=_pass,
            )
    with session_scope(pg_url) as session:
        page = reviews.labels_page(
            session=session, tenant_id=tenant_id, extractor="invoice", limit=10
        )
    by_id = {row.id: row for row in page.rows}
    assert set(by_id) == {approved, corrected}
    assert by_id[approved].review_state == "approved"
    assert (by_id[approved].idempotency_key, by_id[approved].filename) == ("doc:a-1", "a.pdf")
    assert by_id[corrected].result["invoice_number"] == "INV-1"
    assert by_id[corrected].original_result["invoice_number"] == "INV-7"
    assert all(row.reviewed_at is not None for row in page.rows)
    assert page.next_cursor is None


def test_labels_page_with_a_cursor_until_none_are_left(pg_url: str) -> None:
    with session_scope(pg_url) as session:
        tenant_id, _ = tenant(session)
        made = [
            seed_job(session, tenant_id, review_state="approved", created_at=T0 + dt.timedelta(i))
            for i in range(5)
        ]
    seen: list[uuid.UUID] = []
    after: Cursor | None = None
    for _ in range(5):
        with session_scope(pg_url) as session:
            page = reviews.labels_page(
                session=session, tenant_id=tenant_id, extractor="invoice", limit=2, after=after
            )
        seen += [row.id for row in page.rows]
        after = page.next_cursor
        if after is None:
            break
    assert seen == made  # oldest first, each once


def test_batch_summaries_count_review_states_with_one_grouped_query(pg_url: str) -> None:
    with session_scope(pg_url) as session:
        tenant_id, _ = tenant(session)
        batch_id = _batch(session, tenant_id)
        states = ["pending", "pending", "approved", "corrected", "not_needed", "not_needed"]
        for state in states:
            seed_job(session, tenant_id, batch_id=batch_id, review_state=state)
        seed_job(session, tenant_id, batch_id=batch_id, status=JobStatus.FAILED, review_state=None)
    with session_scope(pg_url) as session:
        batch = batch_store.get_batch(session=session, tenant_id=tenant_id, batch_id=batch_id)
        with _selects(session) as selects:
            summary = batch_store.summarize(session=session, batch=batch)
    assert summary.review == {"pending": 2, "approved": 1, "corrected": 1, "not_needed": 2}
    assert summary.counts["succeeded"] == 6
    assert summary.counts["failed"] == 1
    assert len(selects) == 1
