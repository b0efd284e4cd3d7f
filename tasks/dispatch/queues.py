"""Broker queue and task names, free of Celery: the API reads queue depths without an app."""

from __future__ import annotations

TASK_NAME = "docqueue.extract"
WEBHOOK_TASK = "docqueue.webhook"
WEBHOOK_QUEUE = "docqueue.webhooks"  # its own queue: a slow receiver never delays extractions


def queue_name(tier: str) -> str:
    """The Redis queue a tier's jobs go to."""
    return f"docqueue.{tier}"
