"""The Celery app: one queue per complexity tier, settings for long I/O-bound LLM calls."""

from __future__ import annotations

from celery import Celery
from kombu import Exchange, Queue  # type: ignore[attr-defined]

from schemas.config import TIERS, get_settings

TASK_NAME = "docqueue.extract"


def queue_name(tier: str) -> str:
    """The Redis queue a tier's jobs go to."""
    return f"docqueue.{tier}"


def _queue(tier: str) -> Queue:
    # Each queue gets its own direct exchange and routing key: with Celery's default
    # exchange, all three queues would share one binding and every message would land
    # in every tier queue.
    name = queue_name(tier)
    return Queue(name, Exchange(name, type="direct"), routing_key=name)  # type: ignore[no-untyped-call]


def make_app() -> Celery:
    """Build the Celery app from settings (tasks are listed explicitly: generic package names)."""
    settings = get_settings()
    cfg = settings.app.celery
    app = Celery("docqueue", broker=settings.redis_url, include=["tasks.extract"])
    app.conf.update(
        task_queues=[_queue(t) for t in TIERS],
        task_default_queue=queue_name("medium"),
        task_ignore_result=True,  # Postgres holds results; no result backend traffic
        task_acks_late=True,  # a worker that dies mid-call leaves the message to redeliver
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_soft_time_limit=cfg.soft_time_limit_s,
        task_time_limit=cfg.time_limit_s,
        broker_transport_options={"visibility_timeout": cfg.visibility_timeout_s},
        broker_connection_retry_on_startup=True,
        broker_pool_limit=64,
        worker_send_task_events=True,  # Flower
        task_send_sent_event=True,
        task_track_started=True,
        worker_hijack_root_logger=False,
        worker_soft_shutdown_timeout=float(cfg.soft_time_limit_s) / 20,
        worker_enable_soft_shutdown_on_idle=True,
        task_serializer="json",
        accept_content=["json"],
    )
    return app


app = make_app()
