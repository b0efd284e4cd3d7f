"""Polling helpers: wait for a condition, a job, or a whole batch to end."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

import httpx
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from storage.models import Job
from tests.support.stacks import LiveStack
from tests.support.tenants import Tenant

TERMINAL = ("succeeded", "failed", "cancelled")


def _poll(predicate: Callable[[], Any], *, timeout: float, every: float) -> tuple[bool, Any]:
    """Call `predicate` every `every` s until truthy or `timeout`; (met?, last value)."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return True, last
        time.sleep(every)
    return False, last


def wait_for(predicate: Callable[[], Any], *, timeout: float = 60.0, every: float = 0.2) -> Any:
    """Poll until `predicate` returns something truthy; fail with a timeout otherwise."""
    met, last = _poll(predicate, timeout=timeout, every=every)
    if not met:
        raise AssertionError(f"condition not met within {timeout} s (last value: {last!r})")
    return last


def wait_until(predicate: Callable[[], Any], *, timeout: float, what: str) -> Any:
    """Poll `predicate` until truthy."""
    met, last = _poll(predicate, timeout=timeout, every=0.1)
    if not met:
        raise AssertionError(f"timed out after {timeout} s waiting for {what}")
    return last


def wait_job(client: httpx.Client, job_id: str, *, timeout: float = 60.0) -> dict[str, Any]:
    """Poll a job until it is terminal and return it."""

    def done() -> dict[str, Any] | None:
        resp = client.get(f"/v1/jobs/{job_id}")
        if resp.status_code == 429:  # rate limited: poll again later
            return None
        assert resp.status_code == 200, f"GET /v1/jobs/{job_id}: {resp.status_code} {resp.text}"
        body: dict[str, Any] = resp.json()
        return body if body["status"] in TERMINAL else None

    result: dict[str, Any] = wait_for(done, timeout=timeout)
    return result


def status_counts(live: LiveStack, tenant: Tenant | None = None) -> dict[str, int]:
    """How many jobs of the stack (or of one tenant) are in each status.

    One retry: Postgres may have restarted.
    """
    query = select(Job.status, func.count()).group_by(Job.status)
    if tenant is not None:
        query = query.where(Job.tenant_id == uuid.UUID(tenant.id))
    for attempt in (1, 2):
        try:
            with live.session() as session:
                rows = session.execute(query).all()
            return {str(status): int(count) for status, count in rows}
        except OperationalError:
            # the first use of a pooled connection from before a restart fails, and
            # SQLAlchemy then drops the whole pool
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def wait_until_terminal(
    live: LiveStack,
    total: int,
    *,
    timeout: float,
    tenant: Tenant | None = None,
    every: float = 0.5,
) -> dict[str, int]:
    """Poll until `total` jobs (of `tenant`, if given) are terminal; fail with the counts."""
    counts: dict[str, int] = {}

    def done() -> bool:
        nonlocal counts
        counts = status_counts(live, tenant)
        return sum(counts.get(s, 0) for s in TERMINAL) >= total

    met, _ = _poll(done, timeout=timeout, every=every)
    if met:
        return counts
    tails = {n: live.stack.log_tail(n, 15) for n in live.stack.procs}
    raise AssertionError(f"not terminal within {timeout} s: {counts}\n{tails}")


def wait_batch(client: httpx.Client, batch_id: str, *, timeout: float = 120.0) -> dict[str, Any]:
    """Poll a batch until every job is terminal (`finished_at` set) and return it."""

    def done() -> dict[str, Any] | None:
        body: dict[str, Any] = client.get(f"/v1/batches/{batch_id}").json()
        return body if body.get("finished_at") else None

    found: dict[str, Any] = wait_for(done, timeout=timeout, every=0.3)
    return found
