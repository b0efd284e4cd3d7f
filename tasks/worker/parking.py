"""The worker's side of the batch lane: load a job's tape, park its next request.

A batch-lane job goes through the worker like any other. Its engine runs over its tape
(tasks/engine/tape.py): answers already recorded are replayed, and the first new request is
parked here, at the batch price, for the batcher (tasks/batchlane) to send.
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from typing import Protocol

import structlog

from schemas.config import AppConfig
from storage import lane
from storage.db import session_scope
from storage.errors import BudgetExhausted, InvalidState
from storage.models import Job
from storage.retrying import retry_transient
from tasks.documents.tokens import estimate_tokens
from tasks.engine.cost import worst_case_cost
from tasks.engine.tape import FINISHED_LIVE, Captured, Exchange, Tape
from tasks.flow.budget.core import refused

log = structlog.get_logger(__name__)


class LaneStore(Protocol):
    """The two verbs the worker needs of the batch lane's tables."""

    def load_tape(self, *, job: Job) -> list[Exchange]:
        """The job's recorded exchanges, in request order."""
        ...

    def park(self, *, parked: lane.ParkedRequest) -> bool:
        """Park the request; False when a newer attempt owns the job."""
        ...

    def wait_for_budget(self, *, job: Job) -> bool:
        """Park the job until a batch hold of its tenant settles; False if none is open."""
        ...


class PostgresLaneStore:
    """`LaneStore` over storage/lane.py, each verb one short transaction."""

    def load_tape(self, *, job: Job) -> list[Exchange]:
        """The job's recorded exchanges, in request order."""

        def load() -> list[Exchange]:
            with session_scope(autocommit=True) as session:
                rows = lane.load_tape(session=session, job_id=job.id)
            return [Exchange(*row) for row in rows]

        return retry_transient("load_tape", load)

    def park(self, *, parked: lane.ParkedRequest) -> bool:
        """Park the request; False when a newer attempt owns the job."""

        def write() -> bool:
            with session_scope() as session:
                lane.park(session=session, parked=parked, now=dt.datetime.now(dt.UTC))
            return True

        try:
            return retry_transient("park", write)
        except InvalidState:
            return False

    def wait_for_budget(self, *, job: Job) -> bool:
        """Park the job until a batch hold of its tenant settles; False if none is open."""

        def write() -> bool:
            with session_scope() as session:
                return lane.wait_for_budget(
                    session=session, tenant_id=job.tenant_id, job_id=job.id, attempt=job.attempts
                )

        return retry_transient("wait_for_budget", write)


def tape_for(store: LaneStore, job: Job) -> Tape | None:
    """The tape a job runs over: park mode on the batch lane, live once it left it."""
    if job.lane == "batch":
        return Tape(store.load_tape(job=job), park=True)
    # answers recorded, the rest sent now (`or ""`: a row built in memory has None)
    if (job.lane_reason or "").startswith(FINISHED_LIVE):
        return Tape(store.load_tape(job=job), park=False)
    return None


def worst_case(config: AppConfig, captured: Captured, model: str) -> tuple[int, Decimal]:
    """The request's size in bytes and its worst-case cost at the batch price."""
    # The length of the text Postgres gives back for the stored JSONB (spaced separators,
    # no ASCII escapes), which the batcher splices into the provider's input file.
    content = json.dumps(captured.body, ensure_ascii=False)
    body = captured.body
    max_out = int(body.get("max_tokens") or body.get("max_completion_tokens") or 0)
    day = dt.datetime.now(dt.UTC).date()
    cost = worst_case_cost(
        model=config.models[model],
        input_tokens=estimate_tokens(content),
        max_output_tokens=max_out,
        calls=1,
        day=day,
        lane="batch",
    )
    return len(content.encode()), cost


def park(store: LaneStore, config: AppConfig, job: Job, captured: Captured) -> bool:
    """Park the captured request of this attempt; raise BudgetExceeded if it cannot be held.

    A request the budget cannot hold now waits while the tenant's other batch items are out:
    their results settle below their worst case and give money back, so a budget is spent,
    not just reserved. With nothing out, it fails. False when a newer attempt owns the job
    (the fence): nothing was written.
    """
    model = str(captured.body.get("model", ""))
    if model not in config.models:
        raise ValueError(f"captured a request for an unknown model {model!r}")
    size, cost = worst_case(config, captured, model)
    parked = lane.ParkedRequest(
        job_id=job.id,
        tenant_id=job.tenant_id,
        attempt=job.attempts,
        tier=job.tier,
        seq=captured.seq,
        provider=captured.provider,
        model=model,
        body=captured.body,
        request_sha=captured.request_sha,
        request_bytes=size,
        reserved_usd=cost,
    )
    for last in (False, True):  # a hold that settled just now gave money back: once more
        try:
            written = store.park(parked=parked)
            break
        except BudgetExhausted as exc:
            if store.wait_for_budget(job=job):
                log.info("job_waits_for_budget", seq=captured.seq, needed_usd=str(cost))
                return True
            if last:
                raise refused(job.tenant_id, exc) from exc
    log.info("job_parked", seq=captured.seq, model=model, written=written)
    return written
