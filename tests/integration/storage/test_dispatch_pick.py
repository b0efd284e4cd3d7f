"""The scheduler's pick on real Postgres: round-robin over the longest-waiting tenants."""

from __future__ import annotations

import uuid
from collections import Counter

from sqlalchemy import text

from storage import picks
from storage.db import session_scope
from tests.support.store_seed import tenant_with_jobs


def _tier() -> str:
    """A tier of this test's own (8 characters): other tests' queued jobs stay out of it."""
    return f"p{uuid.uuid4().hex[:7]}"


def _queue(pg_url: str, tier: str, *, jobs: int, age_s: float, concurrency: int = 64) -> uuid.UUID:
    """A tenant whose `jobs` queued jobs of `tier` waited `age_s` seconds (and a bit less)."""
    tenant_id, job_ids = tenant_with_jobs(pg_url, prefix="pick", n=jobs)
    with session_scope(pg_url) as session:
        session.execute(
            text("UPDATE tenants SET concurrency = :c WHERE id = :t"),
            {"c": concurrency, "t": tenant_id},
        )
        for n, job_id in enumerate(job_ids):
            session.execute(
                text(
                    "UPDATE jobs SET tier = :tier,"
                    " created_at = now() - make_interval(secs => :age - :n * 0.001)"
                    " WHERE id = :id"
                ),
                {"tier": tier, "age": age_s, "n": n, "id": job_id},
            )
    return tenant_id


def _pick(pg_url: str, tier: str, limit: int) -> Counter[uuid.UUID]:
    """Jobs picked per tenant (rolled back: the queue stays as it was)."""
    with session_scope(pg_url) as session:
        picked = picks.pick(session=session, tier=tier, limit=limit).job_ids
        tenants = session.execute(
            text("SELECT tenant_id FROM jobs WHERE id = ANY(:ids)"), {"ids": picked}
        ).scalars()
        counts = Counter(tenants)
        session.rollback()
    return counts


def test_with_more_tenants_waiting_than_a_pick_takes_the_longest_waiting_get_one_each(
    pg_url: str,
) -> None:
    tier = _tier()
    tenants = [_queue(pg_url, tier, jobs=5, age_s=100 - n) for n in range(30)]
    counts = _pick(pg_url, tier, 10)
    assert counts == dict.fromkeys(tenants[:10], 1)


def test_a_tenant_with_little_work_leaves_the_rest_of_the_pick_to_the_others(
    pg_url: str,
) -> None:
    tier = _tier()
    small = _queue(pg_url, tier, jobs=1, age_s=50)
    big = _queue(pg_url, tier, jobs=50, age_s=60)
    assert _pick(pg_url, tier, 16) == {small: 1, big: 15}


def test_a_tenant_gets_no_more_than_its_free_slots(pg_url: str) -> None:
    tier = _tier()
    capped = _queue(pg_url, tier, jobs=10, age_s=80, concurrency=3)
    with session_scope(pg_url) as session:  # one of its jobs already runs
        session.execute(
            text(
                "UPDATE jobs SET status = 'running' WHERE id = "
                "(SELECT id FROM jobs WHERE tenant_id = :t ORDER BY created_at LIMIT 1)"
            ),
            {"t": capped},
        )
    other = _queue(pg_url, tier, jobs=10, age_s=70)
    assert _pick(pg_url, tier, 16) == {capped: 2, other: 10}
