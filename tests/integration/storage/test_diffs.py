"""Diff verbs on real Postgres: jobs of two batches paired by document, in keyset pages."""

from __future__ import annotations

import datetime as dt
import random
import uuid
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import insert

from storage import batches as batch_store
from storage import diffs
from storage.db import session_scope
from storage.diffs import PairCursor, PairRow
from storage.documents import put_document
from storage.errors import NotFound
from storage.models import Job
from storage.rows import Cursor
from storage.tenants import create_tenant

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
# (document text, seconds after T0, result); None as text: a job without a stored document
Spec = tuple[str | None, int, dict[str, Any] | None]


def _tenant(pg_url: str) -> uuid.UUID:
    with session_scope(pg_url) as session:
        return create_tenant(
            session=session,
            name=f"diffs-{uuid.uuid4().hex[:8]}",
            monthly_budget_usd=Decimal(10),
            concurrency=4,
        ).id


def _batch(
    pg_url: str, tenant_id: uuid.UUID, specs: Iterable[Spec]
) -> tuple[uuid.UUID, dict[uuid.UUID, Spec]]:
    """A batch holding one job per spec, inserted in a shuffled order; its id and its jobs."""
    jobs: dict[uuid.UUID, Spec] = {}
    with session_scope(pg_url) as session:
        batch = batch_store.open_batch(
            session=session,
            tenant_id=tenant_id,
            schema_name="invoice",
            tier="low",
            webhook_url=None,
            key=None,
        )
        shuffled = list(specs)
        random.Random(7).shuffle(shuffled)  # insertion order must not decide the pairing
        for body, seconds, result in shuffled:
            sha = None
            if body is not None:
                sha = put_document(session=session, text_=body, kind="text", tokens=1)
            job_id = session.execute(
                insert(Job)
                .values(
                    tenant_id=tenant_id,
                    batch_id=batch.id,
                    document_sha256=sha,
                    filename=f"{body}.txt",
                    schema_name="invoice",
                    schema_version="1",
                    prompt_version="1",
                    tier="low",
                    status="succeeded" if result is not None else "failed",
                    result=result,
                    created_at=T0 + dt.timedelta(seconds=seconds),
                )
                .returning(Job.id)
            ).scalar_one()
            jobs[job_id] = (body, seconds, result)
        return batch.id, jobs


def _all(
    pg_url: str, tenant_id: uuid.UUID, batch_id: uuid.UUID, against: uuid.UUID, limit: int
) -> list[list[PairRow]]:
    """Every page of the pairing, walked with the keyset cursor."""
    pages: list[list[PairRow]] = []
    after: PairCursor | None = None
    while True:
        with session_scope(pg_url, autocommit=True) as session:
            page = diffs.paired_results(
                session=session,
                tenant_id=tenant_id,
                batch_id=batch_id,
                against_id=against,
                after=after,
                limit=limit,
            )
        pages.append(page)
        if len(page) < limit:
            return pages
        after = page[-1].cursor


def _texts(rows: list[PairRow], jobs: dict[uuid.UUID, Spec]) -> dict[str, tuple[Any, Any]]:
    """Each pair as (this batch's spec, against's spec), keyed by 'text#occurrence'."""
    out = {}
    for row in rows:
        mine = jobs[row.job.job_id] if row.job else None
        theirs = jobs[row.against.job_id] if row.against else None
        text_ = (mine or theirs or ("?",))[0]
        out[f"{text_}#{row.occurrence}"] = (mine, theirs)
    return out


def test_jobs_pair_by_document_whatever_order_they_were_made_in(pg_url: str) -> None:
    tenant_id = _tenant(pg_url)
    old = [("doc-a", 1, {"t": 1}), ("doc-b", 2, {"t": 2}), ("doc-c", 3, {"t": 3})]
    new = [("doc-c", 1, {"t": 30}), ("doc-a", 2, {"t": 10}), ("doc-b", 3, {"t": 20})]
    against, old_jobs = _batch(pg_url, tenant_id, old)
    batch_id, new_jobs = _batch(pg_url, tenant_id, new)
    [rows] = _all(pg_url, tenant_id, batch_id, against, limit=100)
    pairs = _texts(rows, old_jobs | new_jobs)
    assert pairs == {
        "doc-a#1": (("doc-a", 2, {"t": 10}), ("doc-a", 1, {"t": 1})),
        "doc-b#1": (("doc-b", 3, {"t": 20}), ("doc-b", 2, {"t": 2})),
        "doc-c#1": (("doc-c", 1, {"t": 30}), ("doc-c", 3, {"t": 3})),
    }
    assert [r.document_sha256 for r in rows] == sorted(r.document_sha256 for r in rows)
    assert all(r.job is not None and r.job.status == "succeeded" for r in rows)


def test_a_document_sent_several_times_pairs_first_with_first_in_creation_order(
    pg_url: str,
) -> None:
    tenant_id = _tenant(pg_url)
    old = [("dup", 5, {"n": "old-1"}), ("dup", 9, {"n": "old-2"})]
    new = [("dup", 30, {"n": "new-3"}), ("dup", 10, {"n": "new-1"}), ("dup", 20, {"n": "new-2"})]
    against, old_jobs = _batch(pg_url, tenant_id, old)
    batch_id, new_jobs = _batch(pg_url, tenant_id, new)
    [rows] = _all(pg_url, tenant_id, batch_id, against, limit=100)
    pairs = _texts(rows, old_jobs | new_jobs)
    assert {k: (m and m[2], t and t[2]) for k, (m, t) in pairs.items()} == {
        "dup#1": ({"n": "new-1"}, {"n": "old-1"}),
        "dup#2": ({"n": "new-2"}, {"n": "old-2"}),
        "dup#3": ({"n": "new-3"}, None),
    }
    assert [r.occurrence for r in rows] == [1, 2, 3]


def test_documents_in_one_batch_only_come_back_with_the_other_side_empty(pg_url: str) -> None:
    tenant_id = _tenant(pg_url)
    against, old_jobs = _batch(pg_url, tenant_id, [("both", 1, {}), ("only-old", 2, {})])
    batch_id, new_jobs = _batch(pg_url, tenant_id, [("both", 1, {}), ("only-new", 2, None)])
    [rows] = _all(pg_url, tenant_id, batch_id, against, limit=100)
    pairs = _texts(rows, old_jobs | new_jobs)
    assert set(pairs) == {"both#1", "only-old#1", "only-new#1"}
    assert pairs["only-old#1"][0] is None
    assert pairs["only-old#1"][1] == ("only-old", 2, {})
    assert pairs["only-new#1"] == (("only-new", 2, None), None)
    assert None not in pairs["both#1"]
    failed = next(r for r in rows if r.job is not None and r.job.status == "failed")
    assert failed.against is None
    assert failed.job is not None
    assert failed.job.result is None


def test_keyset_pages_hold_every_occurrence_once_even_across_a_long_run_of_duplicates(
    pg_url: str,
) -> None:
    tenant_id = _tenant(pg_url)
    old = [(f"d{i}", i, {"i": i}) for i in range(40)] + [("many", 100 + i, {}) for i in range(23)]
    new = [(f"d{i}", i, {"i": -i}) for i in range(7, 52)] + [
        ("many", 200 + i, {}) for i in range(17)
    ]
    against, _ = _batch(pg_url, tenant_id, old)
    batch_id, _ = _batch(pg_url, tenant_id, new)
    [whole] = _all(pg_url, tenant_id, batch_id, against, limit=1000)
    pages = _all(pg_url, tenant_id, batch_id, against, limit=10)
    # d0..d51 once each, and 23 occurrences of "many"
    assert len(whole) == 52 + 23
    assert [len(p) for p in pages] == [10] * 7 + [5]
    assert [r for p in pages for r in p] == whole
    keys = [r.cursor for r in whole]
    assert keys == sorted(keys)
    assert len(set(keys)) == len(keys)
    many = [r for r in whole if r.job is not None and r.job.filename == "many.txt"]
    many += [
        r
        for r in whole
        if r.job is None and r.against is not None and r.against.filename == "many.txt"
    ]
    assert [r.occurrence for r in many] == list(range(1, 24))
    assert sum(1 for r in many if r.job is not None and r.against is not None) == 17


def test_a_page_exactly_as_long_as_the_limit_is_followed_by_an_empty_one(pg_url: str) -> None:
    tenant_id = _tenant(pg_url)
    against, _ = _batch(pg_url, tenant_id, [(f"e{i}", i, {}) for i in range(6)])
    batch_id, _ = _batch(pg_url, tenant_id, [(f"e{i}", i, {}) for i in range(6)])
    pages = _all(pg_url, tenant_id, batch_id, against, limit=3)
    assert [len(p) for p in pages] == [3, 3, 0]


def test_another_tenants_batch_is_not_found_on_either_side(pg_url: str) -> None:
    alice, mallory = _tenant(pg_url), _tenant(pg_url)
    mine, _ = _batch(pg_url, alice, [("secret", 1, {"v": 1})])
    theirs, _ = _batch(pg_url, mallory, [("secret", 1, {"v": 2})])
    also_mine, _ = _batch(pg_url, alice, [("secret", 2, {"v": 3})])
    for batch_id, against in [(mine, theirs), (theirs, mine), (theirs, theirs)]:
        with session_scope(pg_url) as session, pytest.raises(NotFound):
            diffs.paired_results(
                session=session, tenant_id=alice, batch_id=batch_id, against_id=against, limit=10
            )
        with session_scope(pg_url) as session, pytest.raises(NotFound):
            diffs.unreadable_jobs(
                session=session, tenant_id=alice, batch_id=batch_id, against_id=against, limit=10
            )
    [rows] = _all(pg_url, alice, also_mine, mine, limit=10)
    assert len(rows) == 1
    assert rows[0].job is not None
    assert rows[0].against is not None
    assert (rows[0].job.result, rows[0].against.result) == ({"v": 3}, {"v": 1})


def test_jobs_without_a_document_are_never_paired_and_page_out_by_side(pg_url: str) -> None:
    tenant_id = _tenant(pg_url)
    against, old_jobs = _batch(
        pg_url, tenant_id, [(None, i, None) for i in range(3)] + [("x", 9, {})]
    )
    batch_id, new_jobs = _batch(
        pg_url, tenant_id, [(None, 10 + i, None) for i in range(4)] + [("x", 9, {})]
    )
    [rows] = _all(pg_url, tenant_id, batch_id, against, limit=10)
    assert len(rows) == 1  # only "x": no NULL document is ever joined
    lone: list[diffs.LoneJob] = []
    after: Cursor | None = None
    sizes = []
    while True:
        with session_scope(pg_url, autocommit=True) as session:
            page = diffs.unreadable_jobs(
                session=session,
                tenant_id=tenant_id,
                batch_id=batch_id,
                against_id=against,
                after=after,
                limit=2,
            )
        lone += page
        sizes.append(len(page))
        if len(page) < 2:
            break
        after = page[-1].cursor
    assert sizes == [2, 2, 2, 1]
    assert [j.side for j in lone] == ["against"] * 3 + ["batch"] * 4
    assert {j.job_id for j in lone if j.side == "against"} == {
        k for k, (body, _, _) in old_jobs.items() if body is None
    }
    assert {j.job_id for j in lone if j.side == "batch"} == {
        k for k, (body, _, _) in new_jobs.items() if body is None
    }
    assert all(j.status == "failed" for j in lone)
