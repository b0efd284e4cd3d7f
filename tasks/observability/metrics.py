"""Prometheus metrics a worker process counts, and the worker's /metrics server.

Labels stay low-cardinality: model, outcome, tier, status, event; never job, tenant or text.
Global state (queue depth, job counts, semaphores, breakers, budgets) is read at scrape time
by `tasks.observability.collector` on the API, so it is exported once, not once per worker.

Port scheme: a worker serves on the first free port of
[METRICS_PORT, METRICS_PORT + PORT_SPAN); with several worker processes on one host, scrape
that range (an unbound port is just a down target). The threads pool keeps one process per
worker, so no multiprocess collector is needed.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

import structlog
from prometheus_client import Counter, Histogram, start_http_server

from schemas.config import Settings

if TYPE_CHECKING:
    from tasks.engine.llm import CallRecord

log = structlog.get_logger(__name__)
PORT_SPAN = 16
LATENCY_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0)

PROVIDER_CALLS = Counter(
    "docqueue_provider_calls",
    "Provider HTTP calls by model and outcome (ok, validation_error, http_429, timeout...).",
    ["model", "outcome"],
)
PROVIDER_LATENCY = Histogram(
    "docqueue_provider_call_duration_seconds",
    "Latency of one provider HTTP call.",
    ["model"],
    buckets=LATENCY_BUCKETS,
)
PROVIDER_TOKENS = Counter(
    "docqueue_provider_tokens",
    "Tokens billed by providers, by model and direction (input or output).",
    ["model", "direction"],
)
PROVIDER_COST = Counter(
    "docqueue_provider_cost_usd", "Cost of provider calls in USD, by model.", ["model"]
)
BUDGET_REJECTIONS = Counter(
    "docqueue_budget_rejections",
    "Budget reservations refused because a tenant's budget could not cover the worst case.",
)
BOOKKEEPING_FAILURES = Counter(
    "docqueue_bookkeeping_failures",
    "Post-call bookkeeping steps that failed (the call's outcome stands), by step.",
    ["step"],
)
JOBS_FINISHED = Counter(
    "docqueue_jobs_finished",
    "Terminal job writes by status and tier.",
    ["status", "tier"],
)
WEBHOOK_ATTEMPTS = Counter(
    "docqueue_webhook_attempts",
    "Webhook POST attempts by event and outcome (delivered, retry, failed, refused).",
    ["event", "outcome"],
)


def record_call(record: CallRecord, cost_usd: Decimal) -> None:
    """Count one provider call and log it (the model comes from the bound context)."""
    PROVIDER_CALLS.labels(model=record.model, outcome=record.outcome).inc()
    PROVIDER_LATENCY.labels(model=record.model).observe(record.latency_ms / 1000)
    PROVIDER_TOKENS.labels(model=record.model, direction="input").inc(record.usage.input_tokens)
    PROVIDER_TOKENS.labels(model=record.model, direction="output").inc(record.usage.output_tokens)
    PROVIDER_COST.labels(model=record.model).inc(float(cost_usd))
    log.info(
        "model_call",
        outcome=record.outcome,
        status_code=record.status_code,
        latency_ms=record.latency_ms,
        input_tokens=record.usage.input_tokens,
        output_tokens=record.usage.output_tokens,
        cost_usd=float(cost_usd),
    )


def serve_worker_metrics(settings: Settings) -> int | None:
    """Start this process's /metrics on the first free port of the range; return the port."""
    base = settings.metrics_port
    if base is None:
        return None
    for port in range(base, base + PORT_SPAN):
        try:
            start_http_server(port, addr="0.0.0.0")  # noqa: S104 - scraped from the Prometheus host
        except OSError:
            continue  # another worker process on this host holds it
        log.info("metrics_listening", port=port)
        return port
    log.warning("metrics_no_free_port", first=base, span=PORT_SPAN)
    return None
