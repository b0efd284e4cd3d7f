"""What every span goes through: which are recorded, the job id stamped on, metadata only out.

`BackgroundRoots` (the root sampler) drops the traces background work would start with a
bare CLIENT or INTERNAL span (lease heartbeats, semaphore renewals, kombu's and Celery's
own Redis traffic, the scheduler's polling, the collector's queries at scrape time): only
requests, messages and docqueue's own spans start a trace, and everything under them is kept.
`JobStamp` (a span processor) writes `docqueue.job_id` on each span started while a job is
current (tasks.observability.spans) or under a span that has it, so the SQL, Redis and HTTP
spans of a job are found by its id like docqueue's own, and cuts each outgoing request's URL
to its origin (a webhook URL may carry a tenant's secret in its path or query; a provider
call keeps its path). `GuardedExporter` wraps the real exporter and keeps only attributes
from an allow-list of metadata keys: exception messages and stack traces, status
descriptions, retry reasons and captured headers can quote a document (a pydantic error
repeats the value it refused; a SQL error repeats its parameters), so they never leave.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from urllib.parse import urlsplit

from opentelemetry.context import Context
from opentelemetry.sdk.trace import Event, ReadableSpan, Span, SpanProcessor
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.sampling import Decision, Sampler, SamplingResult
from opentelemetry.trace import Link, SpanKind, Status, get_current_span
from opentelemetry.trace.span import TraceState
from opentelemetry.util.types import Attributes, AttributeValue

from tasks.observability.spans import CURRENT_JOB, JOB_ID, in_provider_call

# Metadata the instrumentations (FastAPI, Celery, SQLAlchemy, redis, httpx) set.
SAFE_PREFIXES = (
    "http.",
    "url.",
    "server.",
    "client.",
    "network.",
    "net.",
    "messaging.",
    "db.",  # SQL with placeholders, never its parameters; Redis commands with `?` arguments
    "celery.",
    "user_agent.",
)
# docqueue's own attributes, each by name: a new one is exported once it is listed here.
DOCQUEUE_KEYS = frozenset(
    {
        JOB_ID,
        "docqueue.batch_id",
        "docqueue.tier",
        "docqueue.attempt",
        "docqueue.claimed",
        "docqueue.status",
        "docqueue.error_type",
        "docqueue.written",
        "docqueue.cost_usd",
        "docqueue.responses",
        "docqueue.outcome",  # ok / invalid / error, or a response's (ok, validation_error...)
        "docqueue.last_response",
    }
)
SAFE_KEYS = DOCQUEUE_KEYS | {
    "error.type",
    "exception.type",
    "exception.escaped",
    "asgi.event.type",
    "gen_ai.request.model",
    "gen_ai.provider.name",
    "gen_ai.usage.input_tokens",
    "gen_ai.usage.output_tokens",
}
# Under a safe prefix, yet free text or values: opt-in captures and error strings.
UNSAFE_PREFIXES = (
    "db.query.parameter.",
    "http.request.header.",
    "http.response.header.",
    "celery.retry.reason",
    "celery.revoked.reason",
)
URL_KEYS = ("url.full", "http.url")  # the new and the old semantic conventions' name
_TRACE_ROOTS = (SpanKind.SERVER, SpanKind.PRODUCER, SpanKind.CONSUMER)
_DEFAULT_PORTS = {"http": 80, "https": 443}


def is_safe(key: str) -> bool:
    """Whether an attribute of this name may be exported."""
    if key in SAFE_KEYS:
        return True
    return key.startswith(SAFE_PREFIXES) and not key.startswith(UNSAFE_PREFIXES)


class BackgroundRoots(Sampler):
    """The root sampler: a trace starts at a request, a message or a docqueue span only."""

    def __init__(self, kept: Sampler) -> None:
        self.kept = kept  # decides for the roots that may start a trace (OTEL_TRACES_SAMPLER)

    def should_sample(  # noqa: PLR0917 - the SDK's Sampler signature
        self,
        parent_context: Context | None,
        trace_id: int,
        name: str,
        kind: SpanKind | None = None,
        attributes: Attributes = None,
        links: Sequence[Link] | None = None,
        trace_state: TraceState | None = None,
    ) -> SamplingResult:
        """Drop a root CLIENT or INTERNAL span of an instrumentation; ask `kept` otherwise."""
        if kind in _TRACE_ROOTS or name.startswith("docqueue."):
            return self.kept.should_sample(
                parent_context, trace_id, name, kind, attributes, links, trace_state
            )
        return SamplingResult(Decision.DROP)

    def get_description(self) -> str:
        """Named in the SDK's logs."""
        return f"DocqueueBackgroundRoots{{{self.kept.get_description()}}}"


def cut_url(value: str, *, keep_path: bool) -> str:
    """`scheme://host:port` of a URL (and its path if `keep_path`): no query, no credentials."""
    parts = urlsplit(value)
    host = parts.hostname or ""
    host = f"[{host}]" if ":" in host else host
    try:
        port = parts.port or _DEFAULT_PORTS.get(parts.scheme)
    except ValueError:  # a malformed port: keep nothing of it
        port = None
    origin = f"{parts.scheme}://{host}" + (f":{port}" if port else "")
    return origin + parts.path if keep_path else origin


def _kept(attrs: Mapping[str, AttributeValue] | None) -> tuple[dict[str, AttributeValue], int]:
    kept = {k: v for k, v in (attrs or {}).items() if is_safe(k)}
    return kept, len(attrs or {}) - len(kept)


def guard(span: ReadableSpan) -> ReadableSpan:
    """A copy of `span` with unsafe attributes, event attributes and status text removed."""
    attrs, dropped = _kept(span.attributes)
    events = []
    for event in span.events:
        event_attrs, lost = _kept(event.attributes)
        dropped += lost
        events.append(Event(event.name, event_attrs, event.timestamp))
    links = [Link(link.context, _kept(link.attributes)[0]) for link in span.links]
    if dropped:
        attrs["docqueue.dropped_attributes"] = dropped
    return ReadableSpan(
        name=span.name,
        context=span.context,
        parent=span.parent,
        resource=span.resource,
        attributes=attrs,
        events=events,
        links=links,
        kind=span.kind,
        status=Status(span.status.status_code),  # the description is str(exception)
        start_time=span.start_time,
        end_time=span.end_time,
        instrumentation_scope=span.instrumentation_scope,
    )


class GuardedExporter(SpanExporter):
    """Exports through `inner` only what `guard` keeps."""

    def __init__(self, inner: SpanExporter) -> None:
        self.inner = inner

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        """Guard each span, then hand the batch on."""
        return self.inner.export([guard(s) for s in spans])

    def shutdown(self) -> None:
        """Shut the inner exporter down."""
        self.inner.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        """Flush the inner exporter."""
        return self.inner.force_flush(timeout_millis)


class JobStamp(SpanProcessor):
    """Stamps the job's id on every span started while it is current, or under its span;
    cuts the URL of every outgoing request to its origin (a provider call's to its path)."""

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        """Runs on the starting thread, where the job's and the call's context is visible."""
        job_id = CURRENT_JOB.get()
        if job_id is None:
            # e.g. the task edge's own queries after the job: children of its stamped run span
            parent = get_current_span(parent_context)
            attrs = parent.attributes if isinstance(parent, ReadableSpan) else None
            found = (attrs or {}).get(JOB_ID)
            job_id = found if isinstance(found, str) else None
        if job_id is not None:
            span.set_attribute(JOB_ID, job_id)
        if span.kind is SpanKind.CLIENT:
            _cut_urls(span)


def _cut_urls(span: Span) -> None:
    for key in URL_KEYS:
        value = (span.attributes or {}).get(key)
        if isinstance(value, str):
            # the SDKs' requests to a provider: paths without secrets, e.g. /v1/chat/completions
            span.set_attribute(key, cut_url(value, keep_path=in_provider_call()))
