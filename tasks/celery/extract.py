"""The extraction task: a thin edge over tasks.worker.process.process_job.

A job whose terminal state is `failed` ends the task in Celery's FAILURE state (`JobFailed`),
so Flower tells the truth; everything else about it (the persisted outcome, the ack, no
retry) is as for a job that succeeded.
"""

from __future__ import annotations

import uuid

import redis
import sqlalchemy.exc
import structlog
from celery import Task

from tasks.celery import shutdown  # noqa: F401 - connects the graceful-shutdown hand-back
from tasks.celery.app import app
from tasks.dispatch.queues import TASK_NAME
from tasks.worker.process import Disposition, process_job
from tasks.worker.runtime import get_runtime

log = structlog.get_logger(__name__)


class JobFailed(Exception):
    """The job ended `failed` (already persisted): the task's FAILURE, not a crash.

    It carries the job id and the error type only: a job's error message may quote the
    document, and the exception's repr travels in Celery's task-failed event to Flower.
    """

    def __init__(self, job_id: str, error_type: str) -> None:
        super().__init__(job_id, error_type)  # args as given: pickles and reprs cleanly
        self.job_id = job_id
        self.error_type = error_type

    def __str__(self) -> str:
        return f"job {self.job_id} failed: {self.error_type}"


@app.task(  # type: ignore[untyped-decorator]  # celery ships no type hints
    name=TASK_NAME,
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    # JobFailed is an expected outcome: Celery logs it at INFO without a traceback (`throws`)
    # and, acks being late, acknowledges the message on failure (`acks_on_failure`, Celery's
    # default through `task_acks_on_failure_or_timeout`, stated here so it cannot drift):
    # a failed job is neither retried nor redelivered. Only a lost worker requeues.
    throws=(JobFailed,),
    acks_on_failure=True,
)
def extract_job(self: Task, job_id: str) -> str:
    """Process one job by id; the document text is read from Postgres, never passed here."""
    # Worker log lines carry the Celery task id as request_id: the id Flower shows.
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(request_id=self.request.id)
    ident = uuid.UUID(job_id)
    try:
        processed = process_job(job_id=ident, runtime=get_runtime())
    except (
        sqlalchemy.exc.OperationalError,
        sqlalchemy.exc.InterfaceError,
        redis.ConnectionError,
    ) as exc:
        # Postgres or Redis is restarting: try this delivery again shortly. If even the
        # retry cannot be published, the reconciler re-dispatches the job from Postgres.
        raise self.retry(exc=exc, countdown=2, max_retries=30) from exc
    finally:
        structlog.contextvars.clear_contextvars()
    if processed.disposition is Disposition.FAILED:
        raise JobFailed(job_id, processed.error_type or "internal")
    return str(processed.disposition)
