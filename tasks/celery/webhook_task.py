"""The webhook task: a thin edge over tasks.webhooks.delivery.deliver."""

from __future__ import annotations

import uuid

import sqlalchemy.exc
import structlog
from celery import Task

from schemas.config import get_settings
from tasks.celery.app import app
from tasks.dispatch.queues import WEBHOOK_TASK
from tasks.webhooks.delivery import deliver
from tasks.webhooks.slots import process_slots


@app.task(  # type: ignore[untyped-decorator]  # celery ships no type hints
    name=WEBHOOK_TASK, bind=True, acks_late=True, max_retries=None
)
def deliver_webhook(self: Task, delivery_id: str) -> str:
    """Attempt one webhook delivery by id; Postgres counts attempts and picks the backoff.

    A delivery whose tenant has all its slots busy comes back here after the returned
    countdown too: it waits in the broker, never on a consumer thread.
    """
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(request_id=self.request.id)
    settings = get_settings()
    try:
        retry_in = deliver(
            delivery_id=uuid.UUID(delivery_id), settings=settings, slots=process_slots(settings)
        )
    except (sqlalchemy.exc.OperationalError, sqlalchemy.exc.InterfaceError) as exc:
        raise self.retry(exc=exc, countdown=5, max_retries=60) from exc
    finally:
        structlog.contextvars.clear_contextvars()
    if retry_in is not None:
        raise self.retry(countdown=retry_in)
    return "done"
