"""The KEDA query of each worker ScaledObject, run on real Postgres: the work a tier can use."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import text

from schemas.config import TIERS
from storage.db import session_scope
from tests.support.store_seed import tenant_with_jobs
from tests.unit.deploy.manifests import BASE, items, mapping, named


def _query(tier: str) -> str:
    """The ScaledObject's query, as KEDA sends it."""
    scaled = named("ScaledObject", f"docqueue-worker-{tier}", BASE)
    (trigger,) = items(scaled.spec["triggers"])
    return str(mapping(trigger["metadata"])["query"])


def _tenant(pg_url: str, tier: str, concurrency: int, states: dict[str, int]) -> uuid.UUID:
    """A tenant of `concurrency` whose jobs of `tier` are in the named states, by count."""
    tenant_id, job_ids = tenant_with_jobs(pg_url, prefix="keda", n=sum(states.values()))
    updates = {
        "waiting": "status = 'queued'",
        "dispatched": "status = 'queued', dispatched_at = now()",
        "parked": "status = 'queued', parked_at = now()",
        "running": "status = 'running'",
        "succeeded": "status = 'succeeded'",
    }
    with session_scope(pg_url) as session:
        session.execute(
            text("UPDATE tenants SET concurrency = :c WHERE id = :t"),
            {"c": concurrency, "t": tenant_id},
        )
        ids = iter(job_ids)
        for state, count in states.items():
            for _ in range(count):
                session.execute(
                    text(f"UPDATE jobs SET tier = :tier, {updates[state]} WHERE id = :id"),  # noqa: S608
                    {"tier": tier, "id": next(ids)},
                )
    return tenant_id


def _backlog(pg_url: str, query: str) -> float:
    with session_scope(pg_url) as session:
        return float(session.execute(text(query)).scalar_one())


@pytest.mark.parametrize("tier", TIERS)
def test_each_tier_query_counts_in_flight_and_waiting_jobs_within_tenant_caps(
    pg_url: str, tier: str
) -> None:
    own = f"k{uuid.uuid4().hex[:7]}"  # a tier of this test's own: other tests' jobs stay out
    query = _query(tier).replace(f"'{tier}'", f"'{own}'")
    assert own in query
    assert _backlog(pg_url, query) == 0.0
    _tenant(pg_url, own, 3, {"waiting": 10})  # its cap holds 7 back: 3
    _tenant(pg_url, own, 10, {"running": 2, "dispatched": 1, "waiting": 4, "parked": 5})  # 7
    _tenant(pg_url, own, 2, {"running": 2, "waiting": 3})  # full: 2
    _tenant(pg_url, own, 5, {"succeeded": 4, "parked": 2})  # nothing a worker can run: 0
    _tenant(pg_url, f"{own[:7]}x", 9, {"waiting": 6})  # another tier's work: 0
    assert _backlog(pg_url, query) == 12.0
