"""The extraction task: a thin edge over tasks.worker.process.process_job."""

from __future__ import annotations

import uuid

import redis
import sqlalchemy.exc
import structlog
from celery import Task

from tasks.celery import shutdown  # noqa: F401 - connects the graceful-shutdown hand-back
from tasks.celery.app import app
from tasks.dispatch.queues import TASK_NAME
from tasks.worker.process import process_job
from tasks.worker.runtime import get_runtime


@app.task(  # type: ignore[untyped-decorator]  # celery ships no type hints
    name=TASK_NAME, bind=True, acks_late=True, reject_on_worker_lost=True
)
def extract_job(self: Task, job_id: str) -> str:
    """Process one job by id; the document text is read from Postgres, never passed here."""
    # Worker log lines carry the Celery task id as request_id: the id Flower shows.
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(request_id=self.request.id)
    try:
        return str(process_job(job_id=uuid.UUID(job_id), runtime=get_runtime()))
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
