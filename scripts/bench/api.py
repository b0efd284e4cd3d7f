"""API scenarios: bulk enqueue through POST /v1/batches and GET /v1/jobs/{id} latency."""

from __future__ import annotations

import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import psycopg

from scripts.bench.env import BenchStack
from scripts.bench.pipeline import documents, submit_batch
from scripts.devstack.builder import Tenant


@dataclass
class EnqueueResult:
    """Bulk enqueue throughput."""

    docs: int
    seconds: float
    streams: int

    @property
    def per_s(self) -> float:
        """Documents stored per second."""
        return self.docs / self.seconds


def bulk_enqueue(
    stack: BenchStack, tenant: Tenant, *, n: int, streams: int, timeout: float
) -> EnqueueResult:
    """Stream `n` documents as `streams` concurrent NDJSON batches; check they are stored."""

    def one(index: int) -> int:
        share = n // streams + (1 if index < n % streams else 0)
        with stack.client(tenant, timeout=timeout) as client:
            docs = documents(share, tag=f"bulk{index}")
            return int(submit_batch(client, schema="invoice", tier="low", docs=docs)["created"])

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=streams) as pool:
        created = sum(pool.map(one, range(streams)))
    seconds = time.perf_counter() - started
    with psycopg.connect(stack.pg_dsn) as conn:
        row = conn.execute("SELECT count(*) FROM jobs WHERE tenant_id = %s", (tenant.id,))
        stored = int(row.fetchone()[0])  # type: ignore[index]
    if created != n or stored != n:
        raise RuntimeError(f"bulk enqueue: created {created}, stored {stored}, expected {n}")
    return EnqueueResult(n, seconds, streams)


# Finished jobs with a small result, as a long-running installation accumulates them.
_FILL = """
INSERT INTO jobs (id, tenant_id, schema_name, schema_version, prompt_version, tier,
    tier_reason, status, attempts, model, chunks, reuse, cache_hit, result, input_tokens,
    output_tokens, cost_usd, metadata, created_at, dispatched_at, started_at, finished_at)
SELECT gen_random_uuid(), %(tenant)s, 'invoice', '1', '1', 'low', 'requested', 'succeeded', 1,
    'gpt-5.6-luna', 1, false, false,
    jsonb_build_object('invoice_number', 'INV-' || g, 'total', g %% 1000),
    300, 120, 0.000312, '{}'::jsonb,
    now() - make_interval(secs => g), now(), now(), now()
FROM generate_series(1, %(n)s) AS g
"""


def fill_jobs(stack: BenchStack, tenant: Tenant, *, n: int) -> float:
    """Insert `n` finished jobs for `tenant` with one INSERT ... SELECT; returns seconds."""
    started = time.perf_counter()
    with psycopg.connect(stack.pg_dsn, autocommit=True) as conn:
        conn.execute(_FILL, {"tenant": tenant.id, "n": n})
        conn.execute("VACUUM ANALYZE jobs")
    return time.perf_counter() - started


@dataclass
class PollResult:
    """GET /v1/jobs/{id} latency over sequential requests, in milliseconds."""

    rows: int
    requests: int
    p50_ms: float
    p99_ms: float
    max_ms: float


def poll_latency(
    stack: BenchStack, tenant: Tenant, *, rows: int, requests: int, warm: int = 200
) -> PollResult:
    """Time `requests` sequential GETs of random job ids on one keep-alive client."""
    with psycopg.connect(stack.pg_dsn) as conn:
        cur = conn.execute(
            "SELECT id FROM jobs WHERE tenant_id = %s ORDER BY random() LIMIT %s",
            (tenant.id, requests + warm),
        )
        ids = [str(r[0]) for r in cur.fetchall()]
    timings: list[float] = []
    with stack.client(tenant, timeout=30) as client:
        for index, job_id in enumerate(ids):
            started = time.perf_counter()
            resp = client.get(f"/v1/jobs/{job_id}")
            elapsed = (time.perf_counter() - started) * 1000
            if resp.status_code != 200:
                raise RuntimeError(f"GET /v1/jobs/{job_id}: {resp.status_code} {resp.text[:200]}")
            if index >= warm:
                timings.append(elapsed)
    cuts = statistics.quantiles(timings, n=100, method="inclusive")
    return PollResult(rows, len(timings), cuts[49], cuts[98], max(timings))
