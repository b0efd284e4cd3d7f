"""Shared moves of the fault tests: submit a batch, watch it, audit writes, read leases."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import redis
from sqlalchemy import func, select, text
from sqlalchemy.exc import OperationalError

from storage.models import Job, LlmCall
from tasks.flow.semaphore import RedisSlotLimiter
from tests.conftest import LiveStack, Tenant, WorkerSpec

TERMINAL = ("succeeded", "failed", "cancelled")
LOW_MODELS = ("gpt-4.1-mini", "claude-haiku-4-5")


def submit(
    live: LiveStack,
    texts: list[str],
    *,
    tenant: Tenant | None = None,
    tier: str = "low",
    schema: str = "document_summary",
) -> list[str]:
    """POST one job per text through the API (8 at once); returns the ids in text order."""
    with live.client(tenant) as client:

        def post(body: str) -> str:
            resp = client.post("/v1/jobs", json={"schema": schema, "tier": tier, "text": body})
            assert resp.status_code == 202, resp.text
            job_id: str = resp.json()["id"]
            return job_id

        with ThreadPoolExecutor(8) as pool:
            return list(pool.map(post, texts))


def seed(
    live: LiveStack,
    texts: list[str],
    *,
    tenant: Tenant | None = None,
    tier: str = "low",
    schema: str = "document_summary",
) -> int:
    """Queue one job per text with the storage verbs the API uses, in one transaction.

    A thousand HTTP submissions take a minute on a loaded 2-core machine; these tests are
    about what happens after the API, so big batches go in this way.
    """
    from schemas.extraction.registry import get_schema
    from storage import jobs as job_store
    from tasks.documents.tokens import estimate_tokens

    spec = get_schema(schema)
    who = uuid.UUID((tenant or live.alice).id)
    with live.session() as session:
        rows = [
            job_store.NewJob(
                tenant_id=who,
                schema_name=spec.name,
                schema_version=spec.version,
                prompt_version=spec.prompt.version,
                tier=tier,
                tier_reason="requested",
                document_sha256=job_store.put_document(
                    session=session, text_=body, kind="text", tokens=estimate_tokens(body)
                ),
            )
            for body in texts
        ]
        return job_store.create_jobs(session=session, rows=rows)


def status_counts(live: LiveStack) -> dict[str, int]:
    """How many jobs of the stack are in each status (one retry: Postgres may have restarted)."""
    for attempt in (1, 2):
        try:
            with live.session() as session:
                rows = session.execute(select(Job.status, func.count()).group_by(Job.status)).all()
            return {str(status): int(count) for status, count in rows}
        except OperationalError:
            # the first use of a pooled connection from before a restart fails, and
            # SQLAlchemy then drops the whole pool
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def wait_until_terminal(live: LiveStack, total: int, *, timeout: float) -> dict[str, int]:
    """Poll until all `total` jobs are terminal; fail with the counts (and logs) otherwise."""
    deadline = time.monotonic() + timeout
    counts: dict[str, int] = {}
    while time.monotonic() < deadline:
        counts = status_counts(live)
        if sum(counts.get(s, 0) for s in TERMINAL) >= total:
            return counts
        time.sleep(0.5)
    tails = {n: live.stack.log_tail(n, 15) for n in live.stack.procs}
    raise AssertionError(f"not terminal within {timeout} s: {counts}\n{tails}")


def wait_until(predicate: Callable[[], Any], *, timeout: float, what: str) -> Any:
    """Poll `predicate` until truthy."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def worker_id(live: LiveStack, name: str) -> str:
    """The `jobs.worker` value the named worker process writes (tasks.worker.runtime.Runtime)."""
    return f"{socket.gethostname()}:{live.stack.procs[name].pid}"


def start_worker(live: LiveStack, spec: WorkerSpec) -> None:
    """Start one more worker process in a running stack."""
    live.stack.worker(name=spec.name, tiers=spec.tiers, concurrency=spec.concurrency)


def running_on(live: LiveStack, worker: str) -> set[str]:
    """Ids of the jobs a worker holds right now."""
    with live.session() as session:
        rows = session.scalars(
            select(Job.id).where(Job.status == "running", Job.worker == worker)
        ).all()
    return {str(r) for r in rows}


# Counts every write that puts a job into a terminal status, including a second one on a
# job that is already terminal: the fence must make that count equal the number of jobs.
_AUDIT = """
CREATE TABLE IF NOT EXISTS terminal_writes (job_id uuid, status text, attempts int,
                                            at timestamptz DEFAULT clock_timestamp());
CREATE OR REPLACE FUNCTION audit_terminal() RETURNS trigger AS $$
BEGIN
  IF NEW.status IN ('succeeded', 'failed', 'cancelled') THEN
    INSERT INTO terminal_writes (job_id, status, attempts)
    VALUES (NEW.id, NEW.status, NEW.attempts);
  END IF;
  RETURN NEW;
END $$ LANGUAGE plpgsql;
CREATE TRIGGER jobs_terminal_audit AFTER UPDATE OF status ON jobs
  FOR EACH ROW EXECUTE FUNCTION audit_terminal();
"""


def install_terminal_write_audit(live: LiveStack) -> None:
    """Record every terminal write on `jobs` in a `terminal_writes` table (test-only)."""
    with live.session() as session:
        session.execute(text(_AUDIT))


def terminal_writes_per_job(live: LiveStack) -> dict[str, int]:
    """How many terminal writes each job received."""
    with live.session() as session:
        rows = session.execute(
            text("SELECT job_id, count(*) FROM terminal_writes GROUP BY job_id")
        ).all()
    return {str(job_id): int(n) for job_id, n in rows}


def ok_calls(live: LiveStack) -> int:
    """Provider calls the ledger recorded as answered."""
    with live.session() as session:
        return int(session.scalar(select(func.count()).where(LlmCall.outcome == "ok")) or 0)


def live_leases(live: LiveStack, models: tuple[str, ...] = LOW_MODELS) -> dict[str, int]:
    """Unexpired semaphore leases per model (what the workers hold right now)."""
    client = redis.Redis.from_url(live.redis_url)
    try:
        limiter = RedisSlotLimiter(client, lease_ttl_s=5, heartbeat_s=1, acquire_timeout_s=1)
        return {m: limiter.in_use(m) for m in models}
    finally:
        client.close()


class SimSampler:
    """Polls the simulator's counters in the background (its max gauges survive no reset)."""

    def __init__(self, live: LiveStack, every_s: float = 0.5) -> None:
        self.live, self.every_s = live, every_s
        self.samples: list[dict[str, Any]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self.every_s):
            with contextlib.suppress(httpx.HTTPError):  # a missed sample is fine
                self.samples.append(self.live.sim("/sim/stats?samples=0"))

    def __enter__(self) -> SimSampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
