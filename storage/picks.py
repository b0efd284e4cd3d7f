"""The scheduler's pick: fair work per tier from the work list, and the work list kept true.

A pick costs what it returns, not the queue's size or the number of tenants waiting:
- `heads` reads the earliest rows of `tier_queues` (one per tenant with waiting work, see
  storage/dispatch_models.py) whose tenant has room under its per-tier concurrency;
- `pick` then takes at most `limit - k + 1` candidates from each of those k tenants (one
  probe of the work-list index each), read without locks and taken round-robin, and locks
  only the chosen rows, by primary key;
- `refresh_heads`, after the chosen jobs are marked dispatched, moves each of those
  tenants' heads to its oldest job still waiting ('infinity' when none).
`make bench --only scale` times the three with 1,000 tenants and 1,000,000 queued jobs.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from itertools import zip_longest

from sqlalchemy import text
from sqlalchemy.orm import Session

HEADS_SQL = """
    WITH active AS (
        SELECT tenant_id, count(*) AS n FROM jobs
        WHERE tier = :tier
          AND (status = 'running' OR (status = 'queued' AND dispatched_at IS NOT NULL))
        GROUP BY tenant_id
    )
    SELECT w.tenant_id, t.concurrency - COALESCE(a.n, 0) AS free
    FROM tier_queues w
    JOIN tenants t ON t.id = w.tenant_id
    LEFT JOIN active a ON a.tenant_id = w.tenant_id
    WHERE w.tier = :tier AND w.head < 'infinity'
      AND t.concurrency - COALESCE(a.n, 0) > 0
    ORDER BY w.head
    LIMIT :limit
    """

PICK_SQL = """
    WITH heads AS (
        SELECT * FROM unnest(CAST(:tenants AS uuid[]), CAST(:frees AS bigint[]))
            AS h(tenant_id, free)
    ), candidates AS (
        SELECT x.id, x.created_at,
               row_number() OVER (PARTITION BY h.tenant_id ORDER BY x.created_at) AS round
        FROM heads h
        CROSS JOIN LATERAL (
            SELECT j.id, j.created_at FROM jobs j
            WHERE j.tier = :tier AND j.tenant_id = h.tenant_id
              AND j.status = 'queued' AND j.dispatched_at IS NULL AND j.parked_at IS NULL
            ORDER BY j.created_at
            -- with k tenants in the pick, one fills at most limit - (k - 1) places
            LIMIT LEAST(h.free, :limit - cardinality(CAST(:tenants AS uuid[])) + 1)
        ) x
    ), chosen AS (
        SELECT id FROM candidates ORDER BY round, created_at LIMIT :limit
    )
    -- Locked by primary key alone: the ids come as one array (an InitPlan), so the plan
    -- probes the key index per id. With the work-list predicates in this WHERE the planner
    -- could read the whole partial work-list index and join (83.6 ms at 19,000 waiting).
    -- `waiting` is evaluated on the row as locked (READ COMMITTED re-reads a row changed
    -- since the snapshot), so a job dispatched or cancelled meanwhile is dropped below.
    SELECT j.id, j.tenant_id,
           (j.status = 'queued' AND j.dispatched_at IS NULL AND j.parked_at IS NULL) AS waiting
    FROM jobs j WHERE j.id = ANY(ARRAY(SELECT id FROM chosen))
    ORDER BY j.created_at
    FOR UPDATE OF j SKIP LOCKED
    """
# A head another transaction holds (an insert not yet committed may be lowering it) is
# skipped: raising it from a snapshot that cannot see that insert's jobs would starve them.
# The next pick that reaches the tenant raises it instead.
_LOCK_HEADS = text(
    "SELECT tenant_id FROM tier_queues WHERE tier = :tier AND tenant_id = ANY(:tenants)"
    " ORDER BY tenant_id FOR UPDATE SKIP LOCKED"
)
# A statement of its own, after the lock: its snapshot then sees every committed job.
_RAISE_HEADS = text(
    """
    UPDATE tier_queues w SET head = COALESCE((
        SELECT j.created_at FROM jobs j
        WHERE j.tier = w.tier AND j.tenant_id = w.tenant_id
          AND j.status = 'queued' AND j.dispatched_at IS NULL AND j.parked_at IS NULL
        ORDER BY j.created_at LIMIT 1
    ), 'infinity')
    WHERE w.tier = :tier AND w.tenant_id = ANY(:tenants)
    """
)
_HEADS = text(HEADS_SQL)
DISPATCH_LOCK = 0x64715F64  # "dq_d": one dispatch round at a time, whoever runs it
_SERIALIZE = text("SELECT pg_advisory_xact_lock(:key)")
_PICK = text(PICK_SQL)


@dataclass(frozen=True)
class Pick:
    """The jobs locked for publishing, and every tenant the pick looked at."""

    job_ids: list[uuid.UUID]
    tenants: list[uuid.UUID]


def serialize_rounds(*, session: Session) -> None:
    """Wait until no other dispatch round runs; held until this transaction ends.

    Two rounds at once (two schedulers that both believe they lead) would each count a
    tenant's room from the same committed state and together publish past its cap. A
    transaction-level lock works through PgBouncer's transaction pooling too.
    """
    session.execute(_SERIALIZE, {"key": DISPATCH_LOCK})


def pick(*, session: Session, tier: str, limit: int) -> Pick:
    """Lock up to `limit` waiting jobs, round-robin across the longest-waiting tenants."""
    if limit <= 0:
        return Pick([], [])
    heads = session.execute(_HEADS, {"tier": tier, "limit": limit}).all()
    if not heads:
        return Pick([], [])
    tenants = [tenant_id for tenant_id, _ in heads]
    params = {"tier": tier, "limit": limit, "tenants": tenants, "frees": [f for _, f in heads]}
    per_tenant: dict[uuid.UUID, list[uuid.UUID]] = {}
    for job_id, tenant_id, waiting in session.execute(_PICK, params).all():
        if waiting:
            per_tenant.setdefault(tenant_id, []).append(job_id)
    # Interleave tenants so a big tenant cannot fill the queue ahead of a small one.
    fair = [j for group in zip_longest(*per_tenant.values()) for j in group if j is not None]
    return Pick(fair[:limit], tenants)


def refresh_heads(*, session: Session, tier: str, tenants: list[uuid.UUID]) -> None:
    """Move these tenants' heads to their oldest job still waiting, after marking a pick."""
    if not tenants:
        return
    locked = list(session.scalars(_LOCK_HEADS, {"tier": tier, "tenants": tenants}))
    if locked:
        session.execute(_RAISE_HEADS, {"tier": tier, "tenants": locked})
