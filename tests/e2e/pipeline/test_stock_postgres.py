"""The Procfile's stack on a stock Postgres (max_connections = 100): a 2,000-document batch.

Two uvicorn API workers, a worker of 32 threads per tier, the webhook worker and the
scheduler, with the simulator at its default latency, on the suite's Postgres (stock
`max_connections`). The batch must finish without a `too many clients` anywhere, without
a job requeued after its lease ran out, all succeeded, and a cold run within 1.5x of a
warm one (different documents, so nothing is served from the reuse cache).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import psycopg
import pytest

from schemas.config import Settings
from scripts.bench.pgconns import PeakConnections
from scripts.bench.pipeline import submit_batch
from scripts.devstack.postgres import PostgresServer
from tasks.documents.tokens import estimate_tokens
from tests.support.stacks import TEST_OVERRIDES, LiveStack, StackFactory, WorkerSpec
from tests.support.tenants import Tenant
from tests.support.waits import wait_until

# Two 2,000-job runs at the simulator's 200 ms take minutes: with the slow fault runs in
# `make test-faults`, so `make test` keeps its margin under the 15-minute budget.
pytestmark = [pytest.mark.e2e, pytest.mark.faults]

N = 2_000
SIM_DEFAULT_LATENCY_MS = 200  # `python -m scripts.simulator`'s default, as in the Procfile
THREADS = Settings().app.celery.worker_concurrency  # the Procfile's workers pass no -c
CONNECTION_BUDGET = 80
BATCH_TIMEOUT_S = 240
# The suite's short timings, except the one that republishes a job still waiting in its
# queue after 5 s: a 2,000-job backlog waits longer than that by design.
OVERRIDES = {**TEST_OVERRIDES, "dispatch": {**TEST_OVERRIDES["dispatch"], "stuck_queued_s": 120}}
MEMO = "Memo {tag}-{i}: the quarterly report is due on 2026-03-{day:02d}. Owner: team {i}. "
SIZES = (1, 3, 9)  # memo repeats: with the router below, one third of the batch per tier


def _router() -> dict[str, Any]:
    """Thresholds that send the three document sizes to low, medium and high."""
    small, middle, large = (estimate_tokens(MEMO.format(tag="t", i=0, day=1) * k) for k in SIZES)
    return {
        "low_max_tokens": (small + middle) // 2,
        "high_min_tokens": (middle + large) // 2,
    }


def _documents(tag: str) -> Iterator[dict[str, Any]]:
    for i in range(N):
        text = MEMO.format(tag=tag, i=i, day=i % 28 + 1) * SIZES[i % len(SIZES)]
        yield {"text": text, "filename": f"{tag}/memo-{i}.txt", "key": f"{tag}-{i}"}


@pytest.fixture(scope="module")
def stack(stack_factory: StackFactory) -> Iterator[LiveStack]:
    """The Procfile's layout, the shipped pools, the test suite's short timings."""
    live = stack_factory.builder.build(
        LiveStack,
        name="stockpg",
        config=[{**OVERRIDES, "router": _router()}],
        workers=[
            WorkerSpec(name=t, tiers=t, concurrency=THREADS) for t in ("low", "medium", "high")
        ],
        sim_latency_ms=SIM_DEFAULT_LATENCY_MS,
        api_workers=2,
    )
    live.stack.webhooks()
    yield live
    live.close()


@dataclass(frozen=True)
class Run:
    """One batch: how long from the first byte sent to its last job finished."""

    seconds: float
    upload_seconds: float
    by_status: dict[str, int]
    by_tier: dict[str, int]
    peak_connections: int


def _counts(conn: psycopg.Connection[Any], column: str, batch: str) -> dict[str, int]:
    """The batch's jobs counted by `column` (status or tier)."""
    rows = conn.execute(
        f"SELECT {column}, count(*) FROM jobs WHERE batch_id = %s GROUP BY 1",  # noqa: S608 - a column name of ours
        (batch,),
    ).fetchall()
    return {str(key): int(n) for key, n in rows}


def _run_batch(stack: LiveStack, tenant: Tenant, tag: str) -> Run:
    dsn = stack.db_url.replace("+psycopg", "")
    with PeakConnections(dsn) as conns, psycopg.connect(dsn, autocommit=True) as conn:
        began = time.time()
        with stack.client(tenant, timeout=120) as client:
            accepted = submit_batch(
                client, schema="document_summary", tier="auto", docs=_documents(tag)
            )
        uploaded = time.time() - began
        assert accepted["created"] == N, accepted
        batch = accepted["id"]

        def active() -> int:
            row = conn.execute(
                "SELECT count(*) FROM jobs WHERE batch_id = %s AND status IN ('queued', 'running')",
                (batch,),
            ).fetchone()
            return int(row[0]) if row else -1

        wait_until(lambda: active() == 0, timeout=BATCH_TIMEOUT_S, what=f"batch {tag} to finish")
        status = _counts(conn, "status", batch)
        tiers = _counts(conn, "tier", batch)
        last = conn.execute(
            "SELECT extract(epoch FROM max(finished_at)) FROM jobs WHERE batch_id = %s", (batch,)
        ).fetchone()
    assert last is not None, status
    assert last[0] is not None, status
    return Run(float(last[0]) - began, uploaded, status, tiers, conns.peak)


def _scheduler_requeued_running(stack: LiveStack) -> list[dict[str, Any]]:
    found = []
    for line in (stack.stack.run_dir / "scheduler.log").read_text(errors="replace").splitlines():
        if '"reconciled"' not in line:
            continue
        entry = json.loads(line)
        if entry.get("requeued_running", 0) > 0:
            found.append(entry)
    return found


def _too_many_clients(stack: LiveStack, pg: PostgresServer, pg_log_from: int) -> list[str]:
    lines = []
    for path in sorted(stack.stack.run_dir.glob("*.log")):
        lines += [f"{path.name}: {ln}" for ln in path.read_text(errors="replace").splitlines()]
    with pg.log_path.open(errors="replace") as fh:
        fh.seek(pg_log_from)
        lines += [f"postgres.log: {ln}" for ln in fh.read().splitlines()]
    return [ln[:300] for ln in lines if "too many clients" in ln]


@pytest.mark.timeout(600)  # ~2.5 min on 2 idle cores; 4.5 min under a load of 15
def test_a_2000_document_batch_runs_on_a_stock_postgres_without_exhausting_connections(
    stack: LiveStack, pg_server: PostgresServer
) -> None:
    pg_log_from = pg_server.log_path.stat().st_size
    tenant = stack.tenant("stockpg", concurrency=64)
    cold = _run_batch(stack, tenant, "cold")
    warm = _run_batch(stack, tenant, "warm")
    print(
        f"\nstock postgres: cold {cold.seconds:.1f} s (upload {cold.upload_seconds:.1f} s), "
        f"warm {warm.seconds:.1f} s (upload {warm.upload_seconds:.1f} s), "
        f"peak connections {cold.peak_connections} / {warm.peak_connections}, "
        f"tiers {cold.by_tier}"
    )
    assert cold.by_status == {"succeeded": N}
    assert warm.by_status == {"succeeded": N}
    assert set(cold.by_tier) == {"low", "medium", "high"}  # every tier worker took its share
    assert _too_many_clients(stack, pg_server, pg_log_from) == []
    assert _scheduler_requeued_running(stack) == []
    assert max(cold.peak_connections, warm.peak_connections) <= CONNECTION_BUDGET
    assert cold.seconds <= 1.5 * warm.seconds
