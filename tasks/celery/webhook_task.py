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


@app.task(  # type: ignore[untyped-decorator]  # celery ships no type hints
    name=WEBHOOK_TASK, bind=True, acks_late=True, max_retries=None
)
def deliver_webhook(self: Task, delivery_id: str) -> str:
    """Attempt one webhook delivery by id; Postgres counts attempts and picks the backoff."""
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(request_id=self.request.id)
    try:
        retry_in = deliver(delivery_id=uuid.UUID(delivery_id), settings=get_settings())
    except (sqlalchemy.exc.OperationalError, sqlalchemy.exc.InterfaceError) as exc:
        raise self.retry(exc=exc, countdown=5, max_retries=60) from exc
    finally:
        structlog.contextvars.clear_contextvars()
    if retry_in is not None:
        raise self.retry(countdown=retry_in)
    return "done"
