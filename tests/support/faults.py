"""Probes of the fault tests: which worker holds what, terminal-write audits, leases."""

from __future__ import annotations

import contextlib
import socket
import threading
from dataclasses import dataclass
from typing import Any

import httpx
import redis
from sqlalchemy import func, select, text

from storage.models import Job, LlmCall
from tasks.flow.semaphore import RedisSlotLimiter
from tests.support.stacks import LiveStack, WorkerSpec
from tests.support.waits import wait_until

LOW_MODELS = ("gpt-5.6-luna", "claude-haiku-5-5")


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


@dataclass(frozen=True)
class LedgerAudit:
    """The ledger set against the requests the provider saw, call by call."""

    rows: int
    requests: int
    unbilled: list[str]  # requests the provider saw with no ledger row: must be empty
    unexplained: list[int]  # rows the provider never saw that are not `unknown`: must be empty


def audit_ledger(live: LiveStack, *, timeout: float = 30.0) -> LedgerAudit:
    """Wait until no call is in flight, then match every ledger row to a provider request.

    Each request carries its ledger row id (X-Client-Request-Id). A worker killed after
    opening a row may die before the provider read the request: that row is `unknown`,
    billed at its reserved cost, and the only kind allowed to have no request.
    """

    def settled() -> bool:
        with live.session() as session:
            in_air = session.scalar(select(func.count()).where(LlmCall.outcome == "in_flight"))
        return not in_air

    wait_until(settled, timeout=timeout, what="no ledger row in flight")
    with live.session() as session:
        outcomes = dict(session.execute(select(LlmCall.id, LlmCall.outcome)).tuples().all())
    seen = httpx.get(f"{live.sim_url}/sim/client-request-ids", timeout=10).json()
    ids = {int(s.removeprefix("docqueue-call-")) for s in seen if s.startswith("docqueue-call-")}
    return LedgerAudit(
        rows=len(outcomes),
        requests=len(seen),
        unbilled=[s for s in seen if int(s.removeprefix("docqueue-call-")) not in outcomes],
        unexplained=[i for i, o in outcomes.items() if i not in ids and o != "unknown"],
    )
