"""End-to-end scenarios: submit documents through the batches API, time them to terminal."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import psycopg

from scripts.bench.env import BenchStack
from scripts.devstack.builder import Tenant

INVOICE = (
    "ACME Tools GmbH, Hauptstrasse {i}, Berlin. Invoice INV-{tag}-{i} dated 2026-03-01.\n"
    "Bill to: Globex Corp. 3 x hammer at 12.50 EUR, 2 x saw at 30.00 EUR. "
    "Payment due 2026-03-31."
)
NDJSON = "application/x-ndjson"


def documents(n: int, *, tag: str) -> Iterator[dict[str, Any]]:
    """`n` distinct small invoices (each stored once, keyed so a re-send is a no-op)."""
    for i in range(n):
        text = INVOICE.format(i=i, tag=tag)
        yield {"text": text, "filename": f"inv-{i}.txt", "key": f"{tag}-{i}"}


def ndjson_body(header: dict[str, Any], docs: Iterator[dict[str, Any]]) -> Iterator[bytes]:
    """The header line, then one document per line, in ~64 KiB pieces."""
    buf = [json.dumps(header)]
    size = 0
    for doc in docs:
        line = json.dumps(doc, separators=(",", ":"))
        buf.append(line)
        size += len(line)
        if size > 65536:
            yield ("\n".join(buf) + "\n").encode()
            buf, size = [], 0
    if buf:
        yield ("\n".join(buf) + "\n").encode()


def submit_batch(
    client: httpx.Client, *, schema: str, tier: str, docs: Iterator[dict[str, Any]]
) -> dict[str, Any]:
    """Stream one NDJSON batch; returns the API's answer (raises on an error status)."""
    resp = client.post(
        "/v1/batches",
        content=ndjson_body({"schema": schema, "tier": tier}, docs),
        headers={"content-type": NDJSON},
    )
    if resp.status_code != 202:
        raise RuntimeError(f"POST /v1/batches: {resp.status_code} {resp.text[:300]}")
    body: dict[str, Any] = resp.json()
    return body


@dataclass
class Finished:
    """When a tenant's jobs ran, read from Postgres (the same clock as time.time())."""

    total: int
    succeeded: int
    first_started: float
    last_finished: float


def _progress(conn: psycopg.Connection[Any], tenant_id: str) -> tuple[int, int]:
    row = conn.execute(
        "SELECT count(*), count(*) FILTER (WHERE status IN ('queued', 'running'))"
        " FROM jobs WHERE tenant_id = %s",
        (tenant_id,),
    ).fetchone()
    if row is None:
        raise RuntimeError("count query returned no row")
    return int(row[0]), int(row[1])


def wait_terminal(stack: BenchStack, tenant: Tenant, *, n: int, timeout: float) -> Finished:
    """Poll Postgres until all `n` jobs of `tenant` are terminal; return their timings."""
    deadline = time.monotonic() + timeout
    with psycopg.connect(stack.pg_dsn, autocommit=True) as conn:
        while True:
            total, active = _progress(conn, tenant.id)
            if total >= n and active == 0:
                break
            if time.monotonic() > deadline:
                raise TimeoutError(f"{total - active}/{n} jobs terminal after {timeout:.0f}s")
            time.sleep(0.05)
        row = conn.execute(
            "SELECT count(*) FILTER (WHERE status = 'succeeded'),"
            " extract(epoch FROM min(started_at)), extract(epoch FROM max(finished_at))"
            " FROM jobs WHERE tenant_id = %s",
            (tenant.id,),
        ).fetchone()
    if row is None:
        raise RuntimeError("timing query returned no row")
    return Finished(total, int(row[0]), float(row[1]), float(row[2]))


@dataclass
class RunResult:
    """One end-to-end run: submit start, terminal timings, simulator stats."""

    n: int
    submitted_at: float
    done: Finished
    sim: dict[str, Any]

    @property
    def e2e_per_s(self) -> float:
        """Jobs per second from the first submit to the last terminal job."""
        return self.n / (self.done.last_finished - self.submitted_at)

    @property
    def busy_per_s(self) -> float:
        """Jobs per second from the first claim to the last terminal job."""
        return self.n / (self.done.last_finished - self.done.first_started)


def run_documents(
    stack: BenchStack, tenant: Tenant, *, n: int, tag: str, timeout: float, samples: bool = False
) -> RunResult:
    """Submit `n` low-tier invoices as one streamed batch and wait for all to end.

    `samples`: also fetch the simulator's in-flight time series (`inflight_samples`).
    """
    stack.sim("/sim/reset", {})
    with stack.client(tenant, timeout=timeout) as client:
        started = time.time()
        accepted = submit_batch(client, schema="invoice", tier="low", docs=documents(n, tag=tag))
    if accepted.get("created") != n:
        raise RuntimeError(f"batch created {accepted.get('created')} of {n} jobs: {accepted}")
    done = wait_terminal(stack, tenant, n=n, timeout=timeout)
    return RunResult(n, started, done, stack.sim(f"/sim/stats?samples={int(samples)}"))


def warm_up(stack: BenchStack, *, n: int, timeout: float = 120) -> None:
    """Push a few jobs through (own tenant) so every worker has its clients and connections."""
    tenant = stack.tenant(concurrency=10_000)
    run_documents(stack, tenant, n=n, tag="warm", timeout=timeout)
