"""The Celery app: one queue per complexity tier plus webhooks, settings for long I/O calls."""

from __future__ import annotations

from typing import Any

from celery import Celery, signals
from kombu import Exchange, Queue  # type: ignore[attr-defined]

from schemas.config import TIERS, get_settings
from tasks.dispatch.queues import TASK_NAME, WEBHOOK_QUEUE, WEBHOOK_TASK, queue_name
from tasks.flow.connection import celery_broker

# The worker command-line flags every docqueue worker runs with (the raw Celery floor of
# `make bench` uses the same ones, so the comparison is like for like).
WORKER_FLAGS = ("-E", "--without-gossip", "--without-mingle", "-l", "WARNING")


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
    broker, transport = celery_broker(settings.redis_url)  # Sentinel: kombu's own URL form
    app = Celery(
        "docqueue",
        broker=broker,
        include=["tasks.celery.extract", "tasks.celery.webhook_task"],
    )
    app.conf.update(
        task_queues=[*(_queue(t) for t in TIERS), _queue("webhooks")],
        task_routes={WEBHOOK_TASK: {"queue": WEBHOOK_QUEUE}},
        task_default_queue=queue_name("medium"),
        task_ignore_result=True,  # Postgres holds results; no result backend traffic
        task_acks_late=True,  # a worker that dies mid-call leaves the message to redeliver
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_soft_time_limit=cfg.soft_time_limit_s,
        task_time_limit=cfg.time_limit_s,
        broker_transport_options={"visibility_timeout": cfg.visibility_timeout_s, **transport},
        broker_connection_retry_on_startup=True,
        broker_pool_limit=64,
        worker_send_task_events=True,  # Flower
        task_send_sent_event=True,
        task_track_started=True,
        worker_hijack_root_logger=False,
        # threads, with a cancel that cold shutdown can use
        worker_pool="tasks.celery.pool:TaskPool",
        # survives a broker that drops the connection (tasks/celery/consumer.py)
        worker_consumer="tasks.celery.consumer:Consumer",
        # SIGTERM (remapped to a cold shutdown by `docqueue worker`): stop consuming, let
        # running jobs finish for the grace period, then hand back the rest (tasks/shutdown.py).
        worker_soft_shutdown_timeout=cfg.shutdown_grace_s,
        worker_enable_soft_shutdown_on_idle=False,  # an idle worker exits at once
        task_serializer="json",
        accept_content=["json"],
    )
    # Its soft shutdown stops waiting once no job runs (tasks/pool.py).
    app.Worker = app.subclass_with_self("tasks.celery.pool:Worker")
    return app


app = make_app()


def _setup_logging(**_: Any) -> None:
    """Workers log structlog JSON; connecting this signal skips Celery's own logging setup."""
    from tasks.observability.logs import configure_logging

    configure_logging(get_settings())


def _child_logging(**_: Any) -> None:
    """Same logging in a forked pool child (the threads pool has none; prefork would)."""
    from tasks.observability.logs import configure_logging

    configure_logging(get_settings())


def _worker_pools(**_: Any) -> None:
    """This process is a worker: its Postgres pool takes `[pools.worker]`'s size."""
    from storage.db import set_process_kind
    from tasks.observability.pools import register_pool_metrics

    set_process_kind("worker")
    register_pool_metrics()  # its /metrics (if served) reports the pool and its faults


def _worker_metrics(**_: Any) -> None:
    """Serve this worker's /metrics (see tasks.observability.metrics for the port scheme)."""
    from tasks.observability.metrics import serve_worker_metrics

    serve_worker_metrics(get_settings())


# The tasks docqueue publishes. A publisher that never runs them (the scheduler) registers
# placeholders under their names rather than importing them, and with them the engine.
PUBLISHED = (TASK_NAME, WEBHOOK_TASK)


def trace_process(service: str) -> bool:
    """Trace this process, Celery's publish and run spans included, if an OTLP endpoint is set."""
    from tasks.observability.tracing import setup_tracing

    if not setup_tracing(service):
        return False
    from opentelemetry.instrumentation.celery import CeleryInstrumentor

    register_published()
    CeleryInstrumentor().instrument()  # type: ignore[no-untyped-call]
    prepare_task_spans()
    return True


def register_published() -> list[str]:
    """Register a placeholder for each published task this process has not imported.

    The instrumentation ends a publish span only for a task it finds registered (else the
    span never ends and stays current). Returns the names it registered.
    """
    missing = [name for name in PUBLISHED if name not in app.tasks]
    for name in missing:
        app.task(name=name, shared=False)(_published_only)
    return missing


def _published_only(*_: Any, **__: Any) -> None:
    """Never runs: only a worker, which imports the real task, consumes its queue."""
    raise RuntimeError("this process publishes this task; a docqueue worker runs it")


def prepare_task_spans() -> None:
    """Give every registered task the dict the instrumentation keeps its open spans in.

    It would create it lazily on the shared task object (getattr, then setattr): two pool
    threads starting their first run at once could each set one, losing the other's span.
    """
    from opentelemetry.instrumentation.celery.utils import CTX_KEY

    for task in app.tasks.values():
        if getattr(task, CTX_KEY, None) is None:
            setattr(task, CTX_KEY, {})


def _worker_tracing(**_: Any) -> None:
    """Workers trace when OTEL_EXPORTER_OTLP_ENDPOINT is set (tasks.observability.tracing)."""
    trace_process("docqueue-worker")


def _flush_traces(**_: Any) -> None:
    """The worker leaves by os._exit, past atexit: its last spans leave now (bounded)."""
    from tasks.observability.tracing import EXIT_FLUSH_S, shutdown_tracing

    shutdown_tracing(EXIT_FLUSH_S)


def _worker_beacon(**_: Any) -> None:
    """A worker consuming a tier queue keeps a liveness key, so a dead one's jobs return fast."""
    from tasks.worker.heartbeat import start_beacon
    from tasks.worker.runtime import get_runtime

    if set(app.amqp.queues.consume_from) <= {WEBHOOK_QUEUE}:
        return  # the webhook consumer claims no job: nothing of it to reclaim
    settings = get_settings()
    cfg = settings.app.dispatch
    start_beacon(
        redis_url=settings.redis_url,
        worker_id=get_runtime().worker_id,  # the name its claims write into jobs.worker
        ttl_s=cfg.liveness_ttl_s,
        beat_s=cfg.liveness_beat_s,
    )


# Plain connect calls (celery's decorators are untyped); strong refs, the module owns them.
signals.setup_logging.connect(_setup_logging, weak=False)
signals.worker_process_init.connect(_child_logging, weak=False)
signals.worker_init.connect(_worker_pools, weak=False)
signals.worker_init.connect(_worker_metrics, weak=False)
signals.worker_init.connect(_worker_tracing, weak=False)
signals.worker_shutdown.connect(_flush_traces, weak=False)
signals.worker_ready.connect(_worker_beacon, weak=False)
