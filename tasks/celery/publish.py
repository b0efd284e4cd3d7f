"""Publishing to the broker: job ids to tier queues, delivery ids to the webhook queue.

Only ids travel: the document text and payloads stay in Postgres.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from tasks.celery.app import app
from tasks.dispatch.queues import TASK_NAME, WEBHOOK_QUEUE, WEBHOOK_TASK, queue_name


def publish_jobs(jobs: Iterable[tuple[uuid.UUID, str]]) -> None:
    """Send one extraction message per (job id, tier) over one pooled producer."""
    with app.producer_or_acquire() as producer:
        for job_id, tier in jobs:
            app.send_task(TASK_NAME, args=[str(job_id)], queue=queue_name(tier), producer=producer)


def publish_webhooks(ids: Iterable[uuid.UUID | None]) -> None:
    """Send one delivery message per id (only the id travels)."""
    for delivery_id in ids:
        if delivery_id is not None:
            app.send_task(WEBHOOK_TASK, args=[str(delivery_id)], queue=WEBHOOK_QUEUE)
