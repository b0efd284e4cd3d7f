"""Publishing to the broker: job ids to tier queues, delivery ids to the webhook queue.

Only ids travel: the document text and payloads stay in Postgres.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

from tasks.celery.app import app
from tasks.dispatch.queues import TASK_NAME, WEBHOOK_QUEUE, WEBHOOK_TASK, queue_name
from tasks.observability import spans


def publish_jobs(jobs: Iterable[tuple[uuid.UUID, str]]) -> None:
    """Send one extraction message per (job id, tier) over one pooled producer."""
    with app.producer_or_acquire() as producer:
        for job_id, tier in jobs:
            with spans.publish(job_id, tier):  # the root of the job's dispatch trace
                _send(TASK_NAME, str(job_id), queue=queue_name(tier), producer=producer)


def publish_webhooks(ids: Iterable[uuid.UUID | None]) -> None:
    """Send one delivery message per id (only the id travels)."""
    for delivery_id in ids:
        if delivery_id is not None:
            _send(WEBHOOK_TASK, str(delivery_id), queue=WEBHOOK_QUEUE)


def _send(name: str, arg: str, **options: Any) -> None:
    if not spans.enabled():
        app.send_task(name, args=[arg], **options)
        return
    task_id = str(uuid.uuid4())  # known before the send, so a failed one can end its span
    try:
        app.send_task(name, args=[arg], task_id=task_id, **options)
    except BaseException as exc:
        _end_publish_span(name, task_id, exc)
        raise


def _end_publish_span(name: str, task_id: str, exc: BaseException) -> None:
    """End the instrumentation's publish span of a send that raised.

    It ends that span on `after_task_publish`, which a failed send never fires: the span
    would stay open, and current on this thread, for good.
    """
    from opentelemetry.instrumentation.celery import utils
    from opentelemetry.trace import Status, StatusCode

    # The instrumentation's own lookup (Celery's current app), so the span is found on the
    # task object it was attached to, whichever app is current.
    task = utils.retrieve_task_from_sender({"sender": name})
    found = utils.retrieve_context(task, task_id, is_publish=True)
    if found is None:
        return  # it raised before the publish span began
    span, activation, _ = found
    span.set_attribute("error.type", type(exc).__name__)
    span.set_status(Status(StatusCode.ERROR))
    activation.__exit__(None, None, None)
    utils.detach_context(task, task_id, is_publish=True)
