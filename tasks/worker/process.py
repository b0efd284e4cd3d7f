"""Process one job: claim it, run the engine, persist the outcome, say whether to retry."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from enum import StrEnum

import redis
import sqlalchemy.exc
import structlog

from schemas.config import Tier
from schemas.jobs import ErrorType, JobStatus
from storage.models import Job
from tasks.engine import pipeline
from tasks.engine.tape import Captured, playing
from tasks.errors import TaskError
from tasks.extractors.registry import spec_for_job
from tasks.observability import spans
from tasks.worker.heartbeat import Heartbeat
from tasks.worker.held import DRAINING, DrainAware, holding
from tasks.worker.judge import judge, policy_of, reused
from tasks.worker.ledger import AttemptLedger
from tasks.worker.parking import park, tape_for
from tasks.worker.ports import Terminal
from tasks.worker.runtime import Runtime
from tasks.worker.scanning import read_document

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
    FAILED = "failed"  # this attempt's terminal write landed, and it says `failed`
    PARKED = "parked"  # its next request waits in a provider batch (the batch lane)


@dataclass(frozen=True, slots=True)
class Processed:
    """A delivery's disposition, and the error type when it wrote `failed` (for the edge)."""

    disposition: Disposition
    error_type: str | None = None


def process_job(*, job_id: uuid.UUID, runtime: Runtime) -> Processed:
    """Run one delivery of `job_id` end to end."""
    with spans.job(job_id):  # every span of this delivery carries the job id
        return _process(job_id=job_id, runtime=runtime)


def _process(*, job_id: uuid.UUID, runtime: Runtime) -> Processed:
    if DRAINING.is_set():
        return Processed(Disposition.SKIPPED)  # still queued: another worker gets it
    lease_s = runtime.settings.app.semaphore.lease_ttl_s * 4
    with spans.span("claim"):
        claimed = runtime.store.claim(job_id=job_id, worker=runtime.worker_id, lease_s=lease_s)
        if spans.enabled():  # off, a span costs one test: no attributes are built
            spans.annotate(attempt=claimed[0].attempts if claimed else None, claimed=bool(claimed))
    if claimed is None:
        return Processed(Disposition.SKIPPED)
    job, text = claimed
    with holding(job_id, job.attempts):
        processed = _run_claimed(runtime=runtime, job=job, text=text, lease_s=lease_s)
    if processed.disposition is Disposition.FENCED:
        # A newer attempt owns the job (our lease expired, or we handed it back): our write
        # was refused, which is the fence working, not an error.
        log.warning("job_write_fenced", job_id=str(job_id), attempt=job.attempts)
    return processed


def _run_claimed(*, runtime: Runtime, job: Job, text: str, lease_s: float) -> Processed:
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
        model = runtime.settings.app.tiers[as_tier(tier)].models[0]
        earlier = runtime.store.find_reusable(job=job, model=model)
        if earlier is not None:  # an identical earlier extraction, copied at no cost
            trust = reused(earlier=earlier, job=job, config=runtime.settings.app.trust)
            done = Terminal(
                JobStatus.SUCCEEDED,
                earlier.result,
                earlier.model,
                earlier.chunks,
                cache_hit=True,
                trust=trust,
            )
            return _finish(runtime, job, done)
    ledger = AttemptLedger(
        store=runtime.store, job_id=job_id, tenant_id=tenant_id, attempt=attempt, tier=tier
    )
    try:
        spec = spec_for_job(job, runtime.store.load_extractor)
        tape = tape_for(runtime.lanes, job)  # None on the realtime lane
        parked = tape is not None and tape.park
        engine = runtime.engine(tenant_id=tenant_id, job_id=job_id, ledger=ledger, parked=parked)
        engine.killswitch = DrainAware(engine.killswitch)
        app = runtime.settings.app
        with Heartbeat(runtime.store, job_id, attempt, lease_s, lease_s / 4), playing(tape):
            read = read_document(store=runtime.store, job=job, text=text, config=app.ocr)
            outcome = pipeline.run(
                engine=engine,
                spec=spec,
                text=read.text,
                filename=job.filename,
                tier=as_tier(tier),
                samples=policy_of(job, app.trust).samples,
            )
            # Inside the heartbeat: checking every quote of a long document takes a while,
            # and a lease run out here would hand the paid-for result to a second attempt.
            done = judge(
                outcome=outcome,
                text=read.text,
                job=job,
                config=app.trust,
                ocr_words=read.words,
                warnings=read.warnings,
                ocr_pages=read.ocr_pages,
                evidence=spec.evidence,
                inferred=tuple(f"/{name}" for name in spec.merge.summary_fields),
            )
    except Captured as exc:  # the next request goes into a provider batch: park the job
        return _park(runtime, job, exc)
    except TaskError as exc:
        if exc.retryable:
            runtime.store.release(job_id=job_id, attempt=attempt)
            log.info("job_released", reason=type(exc).__name__)
            return Processed(Disposition.RELEASED)
        return _finish(runtime, job, _failed(exc.error_type, exc))
    except INFRA_ERRORS:
        # Redis or Postgres is restarting: not the job's fault, so never fail it. Hand it
        # back if Postgres hears us (else its lease runs out) and let the task edge retry.
        _release_quietly(runtime, job_id, attempt)
        raise
    except Exception as exc:
        log.exception("job_crashed")
        return _finish(runtime, job, _failed(ErrorType.INTERNAL, exc))
    return _finish(runtime, job, done)


def _park(runtime: Runtime, job: Job, captured: Captured) -> Processed:
    try:
        written = park(runtime.lanes, runtime.settings.app, job, captured)
    except TaskError as exc:  # the budget cannot hold the item's worst case at batch price
        return _finish(runtime, job, _failed(exc.error_type, exc))
    except INFRA_ERRORS:
        _release_quietly(runtime, job.id, job.attempts)
        raise
    except Exception as exc:  # a request for a model the TOML no longer has, say
        log.exception("job_park_failed")
        return _finish(runtime, job, _failed(ErrorType.INTERNAL, exc))
    return Processed(Disposition.PARKED if written else Disposition.FENCED)


def _failed(error_type: str, exc: Exception) -> Terminal:
    message = exc.message if isinstance(exc, TaskError) else f"{type(exc).__name__}: {exc}"[:500]
    return Terminal(JobStatus.FAILED, error_type=str(error_type), error_message=message)


def _finish(runtime: Runtime, job: Job, outcome: Terminal) -> Processed:
    """The one terminal write: fenced by the attempt, then the after-finish duties."""
    with spans.span("finish"):
        finished = runtime.store.finish(job_id=job.id, attempt=job.attempts, outcome=outcome)
        if spans.enabled():
            status, error_type = str(outcome.status), outcome.error_type
            spans.annotate(status=status, error_type=error_type, written=finished is not None)
        if finished is not None:
            runtime.store.on_finished(finished=finished)
    if finished is None:
        return Processed(Disposition.FENCED)
    if outcome.status is JobStatus.FAILED:
        return Processed(Disposition.FAILED, outcome.error_type or str(ErrorType.INTERNAL))
    return Processed(Disposition.DONE)


def _release_quietly(runtime: Runtime, job_id: uuid.UUID, attempt: int) -> None:
    try:
        runtime.store.release(job_id=job_id, attempt=attempt)
    except INFRA_ERRORS:
        log.warning("job_release_failed", job_id=str(job_id), attempt=attempt)


def as_tier(value: str) -> Tier:
    """Narrow a stored tier string to the Tier literal."""
    if value not in ("low", "medium", "high"):
        raise ValueError(f"unknown tier {value!r}")
    return value  # type: ignore[return-value]
