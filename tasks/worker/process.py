"""Process one job: claim it, run the engine, persist the outcome, say whether to retry."""

from __future__ import annotations

import itertools
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum

import redis
import sqlalchemy.exc
import structlog

from schemas.config import Tier
from schemas.extraction.registry import get_schema
from schemas.jobs import ErrorType, JobStatus
from storage import jobs as job_store
from storage.db import session_scope
from storage.ledger import CallRow, record_call
from storage.models import Job
from tasks.engine import pipeline as engine_mod
from tasks.engine.ports import KillSwitch
from tasks.errors import Paused, TaskError
from tasks.worker.finished import on_job_finished
from tasks.worker.runtime import Runtime

log = structlog.get_logger(__name__)
# Outages of the platform's own services: they say nothing about the job.
INFRA_ERRORS = (
    redis.ConnectionError,
    redis.TimeoutError,
    sqlalchemy.exc.OperationalError,
    sqlalchemy.exc.InterfaceError,
)


class Disposition(StrEnum):
    """What the task edge should do after processing."""

    DONE = "done"  # a terminal state was written (or nothing was ours to do)
    SKIPPED = "skipped"  # duplicate delivery: running elsewhere or already finished
    RELEASED = "released"  # handed back to the queue (kill switch, no slot): redispatch later
    FENCED = "fenced"  # a newer attempt owns the job; our write was refused


@dataclass
class _Heartbeat:
    """Renews the job lease while the extraction runs, so recovery never steals it."""

    job_id: uuid.UUID
    attempt: int
    lease_s: float
    interval_s: float

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self.lost = False
        self._thread = threading.Thread(target=self._run, daemon=True, name="job-heartbeat")

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                with session_scope() as session:
                    if not job_store.renew_lease(
                        session=session,
                        job_id=self.job_id,
                        attempt=self.attempt,
                        lease_s=self.lease_s,
                    ):
                        self.lost = True
                        return
            except Exception:  # noqa: BLE001 - a missed beat is retried at the next interval
                log.warning("lease_renew_failed", job_id=str(self.job_id))

    def __enter__(self) -> _Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


# The jobs this process is running, {job_id: attempt}: at shutdown, the ones still running
# when the grace period ends are handed back (tasks/shutdown.py) instead of waiting for
# their leases to expire.
_held: dict[uuid.UUID, int] = {}
_held_lock = threading.Lock()
# Set when the grace period is over: claim nothing more, start no new provider call.
DRAINING = threading.Event()


def held_jobs() -> dict[uuid.UUID, int]:
    """A snapshot of the jobs (job id -> attempt) this process is running."""
    with _held_lock:
        return dict(_held)


@contextmanager
def _holding(job_id: uuid.UUID, attempt: int) -> Iterator[None]:
    with _held_lock:
        _held[job_id] = attempt
    try:
        yield
    finally:
        with _held_lock:
            if _held.get(job_id) == attempt:
                del _held[job_id]


@dataclass
class _DrainAware:
    """The kill switch, also on while the worker drains: a released job stops calling out."""

    inner: KillSwitch

    def check(self) -> None:
        if DRAINING.is_set():
            raise Paused("worker shutting down: the job was handed back")
        self.inner.check()


def process_job(*, job_id: uuid.UUID, runtime: Runtime) -> Disposition:
    """Run one delivery of `job_id` end to end."""
    if DRAINING.is_set():
        return Disposition.SKIPPED  # still queued: another worker gets it
    lease_s = runtime.settings.app.semaphore.lease_ttl_s * 4
    # Autocommit: the claim is one atomic UPDATE, and the text read needs no transaction.
    with session_scope(autocommit=True) as session:
        job = job_store.claim(
            session=session, job_id=job_id, worker=runtime.worker_id, lease_s=lease_s
        )
        if job is None:
            return Disposition.SKIPPED
        text = (
            job_store.get_document_text(session=session, sha256=job.document_sha256)
            if job.document_sha256
            else ""
        )
    with _holding(job_id, job.attempts):
        disposition = _run_claimed(runtime=runtime, job=job, text=text, lease_s=lease_s)
    if disposition is Disposition.FENCED:
        # A newer attempt owns the job (our lease expired, or we handed it back): our write
        # was refused, which is the fence working, not an error.
        log.warning("job_write_fenced", job_id=str(job_id), attempt=job.attempts)
    return disposition


def _run_claimed(*, runtime: Runtime, job: Job, text: str, lease_s: float) -> Disposition:
    """Extract a claimed job and write the outcome of this attempt (fenced)."""
    job_id, attempt, tenant_id, tier = job.id, job.attempts, job.tenant_id, job.tier
    # Every line of this attempt carries these (the task edge binds request_id and clears).
    structlog.contextvars.bind_contextvars(
        job_id=str(job_id),
        tenant_id=str(tenant_id),
        attempt=attempt,
        batch_id=str(job.batch_id) if job.batch_id else None,
    )
    if job.reuse and job.document_sha256:
        reused = _reuse(runtime, job)
        if reused is not None:
            return reused
    seq = itertools.count(1)

    def sink(billed: engine_mod.Billed) -> None:
        rec = billed.record
        with session_scope(autocommit=True) as s:  # one INSERT: no BEGIN/COMMIT round trips
            record_call(
                session=s,
                row=CallRow(
                    job_id=job_id,
                    tenant_id=tenant_id,
                    attempt=attempt,
                    seq=next(seq),
                    tier=tier,
                    provider=rec.provider,
                    model=rec.model,
                    chunk=billed.chunk,
                    input_tokens=rec.usage.input_tokens,
                    output_tokens=rec.usage.output_tokens,
                    cached_tokens=rec.usage.cached_tokens,
                    cost_usd=billed.cost_usd,
                    latency_ms=rec.latency_ms,
                    outcome=rec.outcome,
                    status_code=rec.status_code,
                ),
            )

    try:
        spec = get_schema(job.schema_name)
        engine = runtime.engine(tenant_id=tenant_id, job_id=job_id, sink=sink)
        engine.killswitch = _DrainAware(engine.killswitch)
        with _Heartbeat(job_id, attempt, lease_s, lease_s / 4):
            outcome = engine_mod.run(
                engine=engine, spec=spec, text=text, filename=job.filename, tier=Tier_(tier)
            )
    except TaskError as exc:
        if exc.retryable:
            with session_scope() as session:
                job_store.release(session=session, job_id=job_id, attempt=attempt)
            log.info("job_released", reason=type(exc).__name__)
            return Disposition.RELEASED
        return _fail(job_id, attempt, exc.error_type, exc.message)
    except INFRA_ERRORS:
        # Redis or Postgres is restarting: not the job's fault, so never fail it. Hand it
        # back if Postgres hears us (else its lease runs out) and let the task edge retry.
        _release_quietly(job_id, attempt)
        raise
    except Exception as exc:
        log.exception("job_crashed")
        return _fail(job_id, attempt, ErrorType.INTERNAL, f"{type(exc).__name__}: {exc}"[:500])
    with session_scope(autocommit=True) as session:  # the fenced UPDATE is atomic on its own
        written = job_store.finish(
            session=session,
            job_id=job_id,
            attempt=attempt,
            status=JobStatus.SUCCEEDED,
            result=outcome.result,
            model=outcome.model,
            chunks=outcome.chunks,
        )
    if written:
        on_job_finished(job_id)
    return Disposition.DONE if written else Disposition.FENCED


def _release_quietly(job_id: uuid.UUID, attempt: int) -> None:
    try:
        with session_scope() as session:
            job_store.release(session=session, job_id=job_id, attempt=attempt)
    except INFRA_ERRORS:
        log.warning("job_release_failed", job_id=str(job_id), attempt=attempt)


def _reuse(runtime: Runtime, job: Job) -> Disposition | None:
    """Copy an earlier identical extraction (same document, schema, prompt, model) at no cost."""
    model = runtime.settings.app.tiers[Tier_(job.tier)].models[0]
    with session_scope() as session:
        earlier = job_store.find_reusable(
            session=session,
            tenant_id=job.tenant_id,
            document_sha256=job.document_sha256 or "",
            schema_name=job.schema_name,
            schema_version=job.schema_version,
            prompt_version=job.prompt_version,
            model=model,
        )
        if earlier is None:
            return None
        written = job_store.finish(
            session=session,
            job_id=job.id,
            attempt=job.attempts,
            status=JobStatus.SUCCEEDED,
            result=earlier.result,
            model=earlier.model,
            chunks=earlier.chunks,
            cache_hit=True,
        )
    if written:
        on_job_finished(job.id)
    return Disposition.DONE if written else Disposition.FENCED


def _fail(job_id: uuid.UUID, attempt: int, error_type: str, message: str) -> Disposition:
    with session_scope() as session:
        written = job_store.finish(
            session=session,
            job_id=job_id,
            attempt=attempt,
            status=JobStatus.FAILED,
            error_type=str(error_type),
            error_message=message,
        )
    if written:
        on_job_finished(job_id)
    return Disposition.DONE if written else Disposition.FENCED


def Tier_(value: str) -> Tier:  # noqa: N802 - a cast that reads like the type it returns
    """Narrow a stored tier string to the Tier literal."""
    if value not in ("low", "medium", "high"):
        raise ValueError(f"unknown tier {value!r}")
    return value  # type: ignore[return-value]
