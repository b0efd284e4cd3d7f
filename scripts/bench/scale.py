"""Cost stays flat as the work grows: the scheduler's pick and a worker's claim on big tables.

One fresh database, no processes: the statements the scheduler and the workers run, timed
from this process through the same storage verbs.
- pick: the scheduler's Postgres work for one round of one tier (`storage.picks`: heads,
  pick of `PUBLISH_CHUNK` ids, mark, raise the heads) with `tenants` active tenants and
  `queued` queued jobs spread over them; every round is rolled back, so each sees the same
  queue. `EXPLAIN (ANALYZE, BUFFERS)` of the heads read and of the pick is kept.
- claim: `storage.jobs.claim` of fresh queued jobs, one autocommit session each (as the
  worker's store does), first with an empty table, then with `finished` finished jobs in
  it. The ratio of the two medians is the row.
Rows go in with one `INSERT ... SELECT generate_series` each, then `VACUUM ANALYZE` and a
`CHECKPOINT`.
"""

from __future__ import annotations

import statistics
import time
import uuid
from typing import Any

import psycopg
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from scripts.bench.env import BenchEnv
from scripts.bench.rows import Row
from storage import dispatch, picks
from storage import jobs as job_store
from storage.db import get_engine, session_scope
from tasks.dispatch.scheduler import PUBLISH_CHUNK

TIER = "low"
PROBES = 300  # claims timed per table size

_TENANTS = """
INSERT INTO tenants (id, name, monthly_budget_usd, concurrency, webhook_secret)
SELECT gen_random_uuid(), 'scale-' || g, 1000000, 64, 'whsec_bench'
FROM generate_series(1, %(n)s) g
"""
# Spread over every tenant, oldest first; `status` and `finished_at` by the caller.
_JOBS = """
INSERT INTO jobs (id, tenant_id, schema_name, schema_version, prompt_version, tier,
                  tier_reason, status, attempts, reuse, cache_hit, input_tokens,
                  output_tokens, cost_usd, metadata, created_at, finished_at)
SELECT gen_random_uuid(), t.ids[1 + g %% t.n], 'invoice', '1', '1', %(tier)s, 'bench',
       %(status)s, %(attempts)s, false, false, 0, 0, 0, '{}',
       now() - make_interval(secs => (%(n)s - g) / 1000.0),
       CASE WHEN %(finished)s THEN now() END
FROM generate_series(1, %(n)s) g,
     (SELECT array_agg(id) AS ids, count(*)::int AS n FROM tenants) t
"""


def _seed_jobs(dsn: str, *, n: int, status: str, tier: str = TIER) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        attempts = 0 if status == "queued" else 1
        params = {"n": n, "status": status, "tier": tier, "attempts": attempts}
        conn.execute(_JOBS, {**params, "finished": status != "queued"})
        conn.execute("VACUUM ANALYZE jobs")  # as autovacuum leaves a settled table
        conn.execute("CHECKPOINT")  # the bulk load's dirty pages written now, not mid-timing


def _ms(samples: list[float]) -> tuple[float, float]:
    """p50 and p99 of seconds, in milliseconds."""
    cuts = statistics.quantiles(samples, n=100)
    return statistics.median(samples) * 1000, cuts[98] * 1000


def pick_latency(url: str, *, reps: int) -> tuple[float, float, str]:
    """p50/p99 ms of the scheduler's Postgres work per round, and the plans of its pick.

    A round is what `tasks.dispatch.scheduler.dispatch_once` runs for one tier apart from
    publishing: take the dispatch lock, count what is outstanding, read the heads, lock the
    chosen jobs, mark them dispatched and raise the heads it read.
    """
    engine = get_engine(url)
    took: list[float] = []
    for _ in range(reps + 5):
        with Session(engine) as session:
            began = time.perf_counter()
            picks.serialize_rounds(session=session)
            dispatch.outstanding(session=session, tier=TIER)
            picked = picks.pick(session=session, tier=TIER, limit=PUBLISH_CHUNK)
            dispatch.mark_dispatched(session=session, job_ids=picked.job_ids)
            picks.refresh_heads(session=session, tier=TIER, tenants=picked.tenants)
            took.append(time.perf_counter() - began)
            session.rollback()  # the same queue for the next pick
        if len(picked.job_ids) != PUBLISH_CHUNK:
            raise RuntimeError(f"pick returned {len(picked.job_ids)} of {PUBLISH_CHUNK}")
    p50, p99 = _ms(took[5:])  # the first few warm the caches
    return p50, p99, _plans(engine, tenants=picked.tenants)


def _plans(engine: Engine, *, tenants: list[uuid.UUID]) -> str:
    """`EXPLAIN (ANALYZE, BUFFERS)` of the heads read and of the locking pick."""
    args = {"tier": TIER, "limit": PUBLISH_CHUNK}
    with Session(engine) as session:
        frees = [f for t, f in session.execute(text(picks.HEADS_SQL), args).all() if t in tenants]
        plans = []
        for sql, params in (
            (picks.HEADS_SQL, args),
            (picks.PICK_SQL, {**args, "tenants": tenants, "frees": frees}),
        ):
            rows = session.execute(text(f"EXPLAIN (ANALYZE, BUFFERS) {sql}"), params).all()
            plans.append("\n".join(str(r[0]) for r in rows))
        session.rollback()
    return "\n\n".join(plans)


def claim_latency(url: str, dsn: str) -> float:
    """Median ms of claiming `PROBES` fresh queued jobs of their own tier, one at a time."""
    _seed_jobs(dsn, n=PROBES, status="queued", tier="high")
    with psycopg.connect(dsn) as conn:
        ids = [r[0] for r in conn.execute("SELECT id FROM jobs WHERE tier = 'high'").fetchall()]
        conn.execute("UPDATE jobs SET tier = 'done' WHERE tier = 'high'")  # not picked again
    took: list[float] = []
    for job_id in ids:
        with session_scope(url, autocommit=True) as session:
            began = time.perf_counter()
            claimed = job_store.claim(session=session, job_id=job_id, worker="bench", lease_s=60)
            took.append(time.perf_counter() - began)
        if claimed is None:
            raise RuntimeError(f"job {job_id} was not claimed")
    return statistics.median(took) * 1000


def scenario(
    env: BenchEnv, *, tenants: int, queued: int, finished: int, out: dict[str, Any]
) -> list[Row]:
    """The pick and claim rows, with the pick's plan in `out['scale_pick_plan']`."""
    url = env.database(f"scale_{uuid.uuid4().hex[:6]}")
    dsn = url.replace("+psycopg", "")
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(_TENANTS, {"n": tenants})
    empty_ms = claim_latency(url, dsn)
    _seed_jobs(dsn, n=queued, status="queued")
    p50, p99, plan = pick_latency(url, reps=200)
    _seed_jobs(dsn, n=finished, status="succeeded")
    full_ms = claim_latency(url, dsn)
    ratio = full_ms / empty_ms
    out.update(
        scale_pick_p50_ms=p50,
        scale_pick_p99_ms=p99,
        scale_pick_plan=plan,
        scale_claim_empty_ms=empty_ms,
        scale_claim_full_ms=full_ms,
    )
    jobs = f"{tenants:,} tenants, {queued:,} queued"
    return [
        Row(f"scale: scheduler pick p50 ms ({jobs})", f"{p50:.2f}"),
        Row(f"scale: scheduler pick p99 ms ({jobs})", f"{p99:.2f}", "< 20", p99 < 20),
        Row(
            f"scale: claim ms with {finished:,} finished jobs / with none",
            f"{ratio:.2f} ({full_ms:.2f} / {empty_ms:.2f})",
            "<= 1.5",
            ratio <= 1.5,
        ),
    ]
