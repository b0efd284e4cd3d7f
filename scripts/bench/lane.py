"""The batch lane scenario: its cost against the realtime lane, and the batcher's own speed.

1. Cost: the same invoices (same text, different keys so both run) go once on the realtime
   lane and once on the batch lane, in one stack with the batcher running on tight timings;
   the ratio of the ledger's cost per 1,000 documents (sum of `llm_calls.cost_usd` per lane
   and tenant). Every job of both runs must succeed.
2. Batcher throughput: with the batcher stopped, N more invoices park; this process then
   runs the batcher's own steps over them and times those alone (`lane_batcher.py`).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from decimal import Decimal
from typing import Any

import psycopg

from scripts.bench import lane_batcher
from scripts.bench.env import BenchEnv, BenchStack
from scripts.bench.pipeline import NDJSON, ndjson_body, wait_terminal
from scripts.bench.rows import Row
from scripts.devstack.builder import Tenant

# Batch rounds of about a second, so the bench waits on the lane's logic, not its timers.
LANE_TIMINGS = {"flush_size": 500, "max_wait_s": 0.5, "poll_s": 0.2}
BATCH_DELAY_S = 0.5  # the simulator's "24 h" window, shrunk
WORKERS = [("w1", 16)]
TARGET_RATIO, TARGET_PER_S = 0.52, 2000
# One text for both lanes: the ratio then compares prices, not documents.
INVOICE = (
    "ACME Tools GmbH, Hauptstrasse {i}, Berlin. Invoice INV-LANE-{i} dated 2026-03-01.\n"
    "Bill to: Globex Corp. 3 x hammer at 12.50 EUR, 2 x saw at 30.00 EUR. "
    "Payment due 2026-03-31."
)


def submit(stack: BenchStack, tenant: Tenant, *, n: int, lane: str, key: str) -> None:
    """Stream `n` invoices as one NDJSON batch on `lane`; `key` prefixes their idempotency keys."""
    docs = ({"text": INVOICE.format(i=i), "key": f"{key}-{i}"} for i in range(n))
    header = {"schema": "invoice", "tier": "low", "lane": lane}
    with stack.client(tenant, timeout=120) as client:
        resp = client.post(
            "/v1/batches", content=ndjson_body(header, docs), headers={"content-type": NDJSON}
        )
    if resp.status_code != 202 or resp.json().get("created") != n:
        raise RuntimeError(f"POST /v1/batches ({lane}): {resp.status_code} {resp.text[:300]}")


@dataclass
class LaneCost:
    """One lane's run: its jobs, how many succeeded, and what the ledger billed for them."""

    lane: str
    n: int
    succeeded: int
    calls: int
    cost_usd: Decimal
    seconds: float

    @property
    def per_1000(self) -> Decimal:
        """Cost per 1,000 documents."""
        return self.cost_usd * 1000 / self.n


def ledger(stack: BenchStack, tenant: Tenant) -> dict[str, tuple[int, Decimal]]:
    """The tenant's finished ledger rows per lane: (calls, summed cost)."""
    with psycopg.connect(stack.pg_dsn) as conn:
        rows = conn.execute(
            "SELECT lane, count(*), coalesce(sum(cost_usd), 0) FROM llm_calls"
            " WHERE tenant_id = %s AND outcome <> 'in_flight' GROUP BY lane",
            (tenant.id,),
        ).fetchall()
    return {str(lane): (int(calls), Decimal(cost)) for lane, calls, cost in rows}


def run_lane(
    stack: BenchStack, tenant: Tenant, *, n: int, lane: str, started: float, timeout: float
) -> LaneCost:
    """Wait for `tenant`'s `n` jobs to end; return the lane's cost from the ledger."""
    done = wait_terminal(stack, tenant, n=n, timeout=timeout)
    billed = ledger(stack, tenant)
    if set(billed) - {lane}:  # a job that left its lane would blur the ratio: say so
        raise RuntimeError(f"{lane} run billed on other lanes too: {billed}")
    calls, cost = billed.get(lane, (0, Decimal(0)))
    return LaneCost(lane, n, done.succeeded, calls, cost, done.last_finished - started)


def measure_cost(stack: BenchStack, *, n: int, timeout: float) -> tuple[LaneCost, LaneCost]:
    """Submit the same `n` invoices on both lanes at once; return (realtime, batch)."""
    realtime, batch = stack.tenant(concurrency=10_000), stack.tenant(concurrency=10_000)
    started = time.time()
    submit(stack, realtime, n=n, lane="realtime", key="rt")
    submit(stack, batch, n=n, lane="batch", key="bl")
    rt = run_lane(stack, realtime, n=n, lane="realtime", started=started, timeout=timeout)
    bl = run_lane(stack, batch, n=n, lane="batch", started=started, timeout=timeout)
    return rt, bl


def measure_batcher(stack: BenchStack, *, n: int, timeout: float) -> lane_batcher.BatcherSpeed:
    """Park `n` requests with the batcher stopped, time its own steps, then let them finish."""
    stack.stack.stop("batcher")
    tenant = stack.tenant(concurrency=10_000)
    submit(stack, tenant, n=n, lane="batch", key="tp")
    lane_batcher.wait_parked(stack, tenant.id, n=n, timeout=timeout / 2)
    speed = lane_batcher.measure(stack, n=n)
    stack.stack.batcher()  # a re-ask, if any, takes the usual rounds
    speed.succeeded = wait_terminal(stack, tenant, n=n, timeout=timeout / 2).succeeded
    return speed


def scenario(
    env: BenchEnv,
    docs: int,
    items: int,
    out: dict[str, Any],
    overrides: dict[str, Any],
    *,
    timeout: float,
) -> list[Row]:
    """The `lane` rows: batch/realtime cost ratio, jobs succeeded, batcher items/s."""
    config = {**overrides, "batch_lane": LANE_TIMINGS}
    stack = env.stack("lane", overrides=config, workers=WORKERS, api_workers=1)
    try:
        stack.stack.batcher()
        stack.sim("/sim/config", {"batch_delay_s": BATCH_DELAY_S})
        rt, bl = measure_cost(stack, n=docs, timeout=timeout / 2)
        speed = measure_batcher(stack, n=items, timeout=timeout / 2)
    finally:
        stack.close()
    ratio = float(bl.per_1000 / rt.per_1000) if rt.per_1000 else float("inf")
    all_ok = rt.succeeded == rt.n and bl.succeeded == bl.n
    out["lane"] = {
        "realtime": asdict(rt) | {"per_1000": rt.per_1000},
        "batch": asdict(bl) | {"per_1000": bl.per_1000},
        "cost_ratio": ratio,
        "batcher": asdict(speed) | {"per_s": speed.per_s},
    }
    return [
        Row(
            f"lane: batch/realtime cost per 1,000 docs ({docs} docs each, ledger)",
            f"{ratio:.3f} (${bl.per_1000:.4f} / ${rt.per_1000:.4f})",
            f"<= {TARGET_RATIO}",
            ratio <= TARGET_RATIO,
        ),
        Row(
            "lane: jobs succeeded (realtime, batch)",
            f"{rt.succeeded}/{rt.n}, {bl.succeeded}/{bl.n}",
            "all",
            all_ok,
        ),
        Row(
            f"lane: batcher items/s, pack+encode+parse+ingest ({items} items, no provider wait)",
            f"{speed.per_s:,.0f} (pack {speed.pack_per_s:,.0f}, ingest {speed.ingest_per_s:,.0f})",
            f">= {TARGET_PER_S:,}",
            speed.per_s >= TARGET_PER_S,
        ),
        Row(
            f"lane: timed batch jobs succeeded after replay ({items} items)",
            f"{speed.succeeded}/{speed.n}",
            "all",
            speed.succeeded == speed.n,
        ),
    ]
