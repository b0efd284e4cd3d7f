"""The scheduler's work list (`tier_queues`) on real Postgres: heads that never starve a tenant.

Triggers lower a tenant's head when a job starts waiting; the scheduler raises the heads it
read after marking its pick. A head too early costs one empty probe; one too late would
leave the tenant's jobs unpublished, which these tests rule out.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import text

from storage import dispatch, picks
from storage.db import session_scope
from tests.support.store_seed import tenant_with_jobs


def _tier() -> str:
    """A tier of this test's own: other tests' jobs stay out of its work list."""
    return f"w{uuid.uuid4().hex[:7]}"


def _queue(pg_url: str, tier: str, *, jobs: int, age_s: float) -> tuple[uuid.UUID, list[uuid.UUID]]:
    """A tenant with `jobs` queued jobs of `tier`, the first `age_s` seconds old, 1 ms apart."""
    tenant_id, job_ids = tenant_with_jobs(pg_url, prefix="wl", n=jobs)
    with session_scope(pg_url) as session:
        session.execute(
            text(
                "UPDATE jobs SET tier = :tier, created_at = now() - make_interval("
                "secs => :age - array_position(CAST(:ids AS uuid[]), id) * 0.001)"
                " WHERE id = ANY(:ids)"
            ),
            {"tier": tier, "age": age_s, "ids": job_ids},
        )
        session.execute(text("UPDATE tenants SET concurrency = 64 WHERE id = :t"), {"t": tenant_id})
    return tenant_id, job_ids


def _scalar(pg_url: str, sql: str, tier: str, tenant_id: uuid.UUID) -> Any:
    with session_scope(pg_url) as session:
        return session.scalar(text(sql), {"tier": tier, "t": tenant_id})


def _head(pg_url: str, tier: str, tenant_id: uuid.UUID) -> dt.datetime | None:
    """The tenant's head, or None when it is 'infinity' (nothing waits)."""
    head: dt.datetime | None = _scalar(
        pg_url,
        "SELECT NULLIF(head, 'infinity') FROM tier_queues WHERE tier = :tier AND tenant_id = :t",
        tier,
        tenant_id,
    )
    return head


def _empty(pg_url: str, tier: str, tenant_id: uuid.UUID) -> bool:
    """Whether the tenant's row says nothing of it waits in this tier."""
    sql = "SELECT head = 'infinity' FROM tier_queues WHERE tier = :tier AND tenant_id = :t"
    return bool(_scalar(pg_url, sql, tier, tenant_id))


def _oldest_waiting(pg_url: str, tier: str, tenant_id: uuid.UUID) -> dt.datetime | None:
    oldest: dt.datetime | None = _scalar(
        pg_url,
        "SELECT min(created_at) FROM jobs WHERE tier = :tier AND tenant_id = :t"
        " AND status = 'queued' AND dispatched_at IS NULL AND parked_at IS NULL",
        tier,
        tenant_id,
    )
    return oldest


def _round(pg_url: str, tier: str, limit: int) -> list[uuid.UUID]:
    """One scheduler round without the publish: pick, mark, raise the heads; committed."""
    with session_scope(pg_url) as session:
        picked = picks.pick(session=session, tier=tier, limit=limit)
        dispatch.mark_dispatched(session=session, job_ids=picked.job_ids)
        picks.refresh_heads(session=session, tier=tier, tenants=picked.tenants)
    return picked.job_ids


def test_a_tenants_head_is_its_oldest_waiting_job_and_moves_on_after_each_round(
    pg_url: str,
) -> None:
    tier = _tier()
    tenant_id, _ = _queue(pg_url, tier, jobs=5, age_s=30)
    assert _head(pg_url, tier, tenant_id) == _oldest_waiting(pg_url, tier, tenant_id)
    assert len(_round(pg_url, tier, 2)) == 2
    assert _head(pg_url, tier, tenant_id) == _oldest_waiting(pg_url, tier, tenant_id)
    assert len(_round(pg_url, tier, 10)) == 3
    assert _empty(pg_url, tier, tenant_id)


def test_a_requeued_job_older_than_the_head_lowers_it(pg_url: str) -> None:
    tier = _tier()
    tenant_id, job_ids = _queue(pg_url, tier, jobs=3, age_s=30)
    first = _round(pg_url, tier, 1)
    assert first == job_ids[:1]
    with session_scope(pg_url) as session:  # the reconciler hands a dead worker's job back
        session.execute(text("UPDATE jobs SET status = 'running' WHERE id = :id"), {"id": first[0]})
        session.execute(
            text(
                "UPDATE jobs SET status = 'queued', dispatched_at = NULL, worker = NULL"
                " WHERE id = :id"
            ),
            {"id": first[0]},
        )
    assert _head(pg_url, tier, tenant_id) == _oldest_waiting(pg_url, tier, tenant_id)
    assert _round(pg_url, tier, 1) == first


def test_tenants_whose_waiting_jobs_were_cancelled_stop_holding_places_in_the_pick(
    pg_url: str,
) -> None:
    tier = _tier()
    gone = [_queue(pg_url, tier, jobs=2, age_s=90 - n)[0] for n in range(2)]
    with session_scope(pg_url) as session:
        session.execute(
            text("UPDATE jobs SET status = 'cancelled' WHERE tenant_id = ANY(:t)"), {"t": gone}
        )
    live, live_jobs = _queue(pg_url, tier, jobs=2, age_s=10)
    assert _round(pg_url, tier, 2) == []  # the two stale heads came first, and are raised
    assert [_empty(pg_url, tier, t) for t in gone] == [True, True]
    assert sorted(_round(pg_url, tier, 2)) == sorted(live_jobs)
    assert _empty(pg_url, tier, live)


def test_a_head_held_by_an_uncommitted_insert_is_not_raised_past_its_jobs(pg_url: str) -> None:
    tier = _tier()
    tenant_id, job_ids = _queue(pg_url, tier, jobs=1, age_s=30)
    with session_scope(pg_url) as inserting:
        # A second job for the tenant, not yet committed: its trigger holds the head's row.
        inserting.execute(
            text(
                "INSERT INTO jobs (id, tenant_id, schema_name, schema_version, prompt_version,"
                " tier, tier_reason, status, attempts, reuse, cache_hit, input_tokens,"
                " output_tokens, cost_usd, metadata)"
                " SELECT gen_random_uuid(), tenant_id, schema_name, schema_version,"
                " prompt_version, tier, '', 'queued', 0, false, false, 0, 0, 0, '{}'"
                " FROM jobs WHERE id = :id"
            ),
            {"id": job_ids[0]},
        )
        assert _round(pg_url, tier, 5) == job_ids  # published; the head stays where it was
        assert not _empty(pg_url, tier, tenant_id)
    head, oldest = _head(pg_url, tier, tenant_id), _oldest_waiting(pg_url, tier, tenant_id)
    assert head is not None
    assert oldest is not None
    assert head <= oldest  # early (an empty probe), never late
    assert len(_round(pg_url, tier, 5)) == 1
    assert _empty(pg_url, tier, tenant_id)
