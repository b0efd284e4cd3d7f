"""OpenTelemetry tracing, off unless OTEL_EXPORTER_OTLP_ENDPOINT is set.

Each process calls one setup at start (the API in `create_app`, workers on `worker_init`
and the scheduler in `run_forever`, both through `tasks.celery.app.trace_process`, which
adds Celery's instrumentation). With no endpoint, setup returns False having imported no
OpenTelemetry module and patched nothing, and docqueue's span helpers stay no-ops.

With one (from the environment or `.env`), spans go through `span_guard` (background roots
dropped, job id stamped on, outgoing URLs cut to their origin, metadata only) to the OTLP/HTTP
exporter at `<endpoint>/v1/traces` (or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT). The official
instrumentations record: FastAPI requests (the routes add the created job's or batch's id),
SQL statements with placeholders but never their parameters (sqlcommenter off), Redis
commands with every argument replaced by `?`, and httpx / httpx2 requests (the SDKs'
provider calls, webhooks) without bodies or headers. Processes that leave by `os._exit`
(the worker) call `shutdown_tracing` first: atexit, where the SDK flushes, never runs.
"""

from __future__ import annotations

import os
import threading
from importlib import metadata
from typing import TYPE_CHECKING

import structlog

from schemas.config import Settings

if TYPE_CHECKING:
    from fastapi import FastAPI
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SpanExporter

# Long SQL (multi-row inserts) is cut: a span needs the statement's shape, not all of it.
MAX_ATTRIBUTE_LENGTH = 2048
# Requests excluded from traces: scrapes and probes would drown the jobs' traces.
EXCLUDED_URLS = "/metrics,/health,/ready"
# What a process waits at most for its last spans to leave before it exits.
EXIT_FLUSH_S = 2.0
# Resource attributes OTEL_RESOURCE_ATTRIBUTES may add; the rest (and every detector's,
# e.g. process.command_args) stay out.
RESOURCE_KEYS = frozenset(
    {
        "service.namespace",
        "service.instance.id",
        "deployment.environment",
        "deployment.environment.name",
    }
)
# The exporter reads this variable itself; when it is set it wins over our endpoint.
TRACES_ENDPOINT_VAR = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"

log = structlog.get_logger(__name__)
_lock = threading.Lock()
_provider: TracerProvider | None = None


def tracing_endpoint() -> str | None:
    """The OTLP endpoint when tracing is on, else None."""
    # Settings() afresh, not the cached get_settings(): tests set the variable per process.
    return Settings().otel_exporter_otlp_endpoint or None


def setup_tracing(service: str, *, exporter: SpanExporter | None = None) -> bool:
    """Trace this process as `service` if an endpoint is set (or `exporter` is given).

    Idempotent; returns whether tracing is on. `exporter` replaces OTLP (tests).
    """
    global _provider  # noqa: PLW0603 - one tracer provider per process
    with _lock:
        if _provider is not None:
            return True
        endpoint = tracing_endpoint()
        if exporter is None and endpoint is None:
            return False
        from opentelemetry import trace

        from tasks.observability import spans

        _provider = build_provider(service, exporter or otlp_exporter(endpoint))
        trace.set_tracer_provider(_provider)
        spans.enable(_provider.get_tracer("docqueue"))
        _instrument_libraries()
        return True


def otlp_exporter(endpoint: str | None) -> SpanExporter:
    """The OTLP/HTTP exporter for `endpoint` (Settings reads `.env`; the exporter would not)."""
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    if endpoint is None or os.environ.get(TRACES_ENDPOINT_VAR):
        return OTLPSpanExporter()
    return OTLPSpanExporter(endpoint=f"{endpoint.rstrip('/')}/v1/traces")


def build_provider(service: str, exporter: SpanExporter) -> TracerProvider:
    """A tracer provider exporting through the guard in batches, in the background."""
    from opentelemetry.sdk.trace import SpanLimits, TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor
    from opentelemetry.sdk.trace.sampling import ParentBased, _get_from_env_or_default

    from tasks.observability.span_guard import BackgroundRoots, GuardedExporter, JobStamp

    provider = TracerProvider(
        # OTEL_TRACES_SAMPLER still decides for the roots that may start a trace.
        sampler=ParentBased(root=BackgroundRoots(_get_from_env_or_default())),
        resource=build_resource(service),
        span_limits=SpanLimits(max_attribute_length=MAX_ATTRIBUTE_LENGTH),
    )
    provider.add_span_processor(JobStamp())  # first: the stamp is in place before export
    provider.add_span_processor(BatchSpanProcessor(GuardedExporter(exporter)))
    return provider


def build_resource(service: str) -> Resource:
    """service.name and service.version, plus the allow-listed OTEL_RESOURCE_ATTRIBUTES."""
    from opentelemetry.sdk.resources import (
        SERVICE_NAME,
        SERVICE_VERSION,
        OTELResourceDetector,
        Resource,
    )

    try:
        version = metadata.version("docqueue")
    except metadata.PackageNotFoundError:
        version = "unknown"
    given = OTELResourceDetector().detect().attributes
    extra = {k: v for k, v in given.items() if k in RESOURCE_KEYS}
    # Resource(...) itself, not Resource.create: that would merge every detector's output.
    return Resource({**extra, SERVICE_NAME: service, SERVICE_VERSION: version})


def shutdown_tracing(timeout_s: float | None = None) -> None:
    """Flush and stop this process's exporter, waiting at most `timeout_s` (None: no bound).

    The worker calls it before `os._exit` (and on Celery's worker_shutdown), with
    EXIT_FLUSH_S: an unreachable collector must not hold a process that is leaving.
    """
    global _provider
    from tasks.observability import spans

    with _lock:
        provider, _provider = _provider, None
        spans.disable()
    if provider is None:
        return
    if timeout_s is None:
        provider.shutdown()
        return
    done = threading.Thread(target=provider.shutdown, name="tracing-shutdown", daemon=True)
    done.start()
    done.join(timeout_s)
    if done.is_alive():
        log.warning("tracing_flush_timed_out", timeout_s=timeout_s)


def _instrument_libraries() -> None:
    for library, instrument in (
        ("sqlalchemy", _instrument_sqlalchemy),
        ("redis", _instrument_redis),
        ("httpx", _instrument_httpx),
    ):
        try:
            instrument()
        except Exception as exc:  # noqa: BLE001 - tracing must never take a process down
            log.warning("tracing_instrumentation_failed", library=library, error=repr(exc)[:300])


def _instrument_sqlalchemy() -> None:
    from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor

    # sqlcommenter would write request context into the SQL and, with the attribute
    # option, into db.statement: both stay off. Parameters are never recorded. Its declared
    # range stops below SQLAlchemy 2.1, whose Core events it uses unchanged (the end-to-end
    # tracing test sees the SQL spans), so the version check is skipped.
    SQLAlchemyInstrumentor().instrument(
        enable_commenter=False, enable_attribute_commenter=False, skip_dep_check=True
    )


def _instrument_redis() -> None:
    from opentelemetry.instrumentation.redis import RedisInstrumentor

    RedisInstrumentor().instrument()  # every argument of a command is recorded as `?`


def _instrument_httpx() -> None:
    from opentelemetry.instrumentation.httpx import (
        HTTPX2ClientInstrumentor,
        HTTPXClientInstrumentor,
    )

    # Their URLs are cut to the origin as each span starts (span_guard.JobStamp).
    HTTPXClientInstrumentor().instrument()  # webhooks
    HTTPX2ClientInstrumentor().instrument()  # the openai and anthropic SDKs' transport


def instrument_api(app: FastAPI) -> bool:
    """Trace the API's requests when tracing is on; returns whether it is."""
    if not setup_tracing("docqueue-api"):
        return False
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

    FastAPIInstrumentor.instrument_app(
        app,
        excluded_urls=EXCLUDED_URLS,
        # one span per request: the routes name what they created on it (spans.annotate)
        exclude_spans=["receive", "send"],
    )
    return True
