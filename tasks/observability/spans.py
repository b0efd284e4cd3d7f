"""docqueue's own trace spans: publish, claim, provider call and finish, keyed by job id.

Callers on the hot path (the engine, the worker core, publishing) use these helpers only.
Until `tasks.observability.tracing` enables them (OTEL_EXPORTER_OTLP_ENDPOINT set), every
helper returns a shared no-op context at the cost of one `is None` test: opentelemetry is
not even imported. Attributes carry ids, counts, models and outcomes, never document text,
prompts or answers (the exporter's guard, `tasks.observability.span_guard`, drops the rest).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from contextvars import ContextVar
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

from pydantic import ValidationError

if TYPE_CHECKING:
    from opentelemetry.trace import Span, Tracer

    from tasks.engine.llm import CallRecord

JOB_ID = "docqueue.job_id"
RESPONSE_EVENT = "docqueue.response"
Attr = str | int | float | bool
_NOOP: AbstractContextManager[None] = nullcontext()
_tracer: Tracer | None = None
# The job this thread works on: the span processor stamps it on every span started under it
# (docqueue's, and the SQL, Redis and HTTP spans of the instrumentations).
CURRENT_JOB: ContextVar[str | None] = ContextVar("docqueue_trace_job", default=None)


@dataclass
class _Calls:
    """What the billed responses of one provider-call span added up to."""

    span: Span
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    responses: int = 0
    last: str = ""


_CALLS: ContextVar[_Calls | None] = ContextVar("docqueue_trace_calls", default=None)


def enable(tracer: Tracer) -> None:
    """Start recording docqueue spans with `tracer` (tracing setup calls this once)."""
    global _tracer  # noqa: PLW0603 - one tracer per process, set at start-up
    _tracer = tracer


def disable() -> None:
    """Back to the no-op helpers (tests, and a process's tracing shutdown)."""
    global _tracer  # noqa: PLW0603
    _tracer = None


def enabled() -> bool:
    """Whether docqueue spans are being recorded in this process."""
    return _tracer is not None


def in_provider_call() -> bool:
    """Whether this thread is inside a `provider_call` span (its HTTP spans are the SDK's)."""
    return _CALLS.get() is not None


def span(name: str, **attrs: Attr | uuid.UUID | None) -> AbstractContextManager[None]:
    """A child span of the current one, named `docqueue.<name>`."""
    if _tracer is None:
        return _NOOP
    return _span(_tracer, f"docqueue.{name}", attrs)


@contextmanager
def _span(tracer: Tracer, name: str, attrs: dict[str, Attr | uuid.UUID | None]) -> Iterator[None]:
    with tracer.start_as_current_span(name, attributes=_clean(attrs)):
        yield


def job(job_id: uuid.UUID | str) -> AbstractContextManager[None]:
    """Everything traced inside works on `job_id`; the current span (Celery's run) says so."""
    if _tracer is None:
        return _NOOP
    return _job(str(job_id))


@contextmanager
def _job(job_id: str) -> Iterator[None]:
    from opentelemetry import trace

    trace.get_current_span().set_attribute(JOB_ID, job_id)
    token = CURRENT_JOB.set(job_id)
    try:
        yield
    finally:
        CURRENT_JOB.reset(token)


def publish(job_id: uuid.UUID, tier: str) -> AbstractContextManager[None]:
    """The root of a job's dispatch trace: Celery's publish span and the worker's follow it."""
    if _tracer is None:
        return _NOOP
    return _publish(_tracer, str(job_id), tier)


@contextmanager
def _publish(tracer: Tracer, job_id: str, tier: str) -> Iterator[None]:
    from opentelemetry.context import Context
    from opentelemetry.trace import SpanKind

    token = CURRENT_JOB.set(job_id)
    try:
        # A new trace per job, whatever the loop was doing: one job, one dispatch trace. A
        # failed send ends it too (with the exception's type; the guard drops its message).
        with tracer.start_as_current_span(
            "docqueue.publish",
            context=Context(),
            kind=SpanKind.PRODUCER,
            attributes={"docqueue.tier": tier},
        ):
            yield
    finally:
        CURRENT_JOB.reset(token)


def annotate(**attrs: Attr | uuid.UUID | None) -> None:
    """Add `docqueue.*` attributes to the current span (ids, counts, states only).

    Each key must be on the guard's allow-list (`span_guard.DOCQUEUE_KEYS`) to be exported.
    """
    if _tracer is None:
        return
    from opentelemetry import trace

    trace.get_current_span().set_attributes(_clean(attrs))


def provider_call(*, model: str, provider: str, attempt: int) -> AbstractContextManager[None]:
    """One transport attempt at a model (its re-asks included): tokens, cost and outcome.

    Each billed response of the attempt is also a `docqueue.response` event on the span.
    """
    if _tracer is None:
        return _NOOP
    return _provider_call(_tracer, model, provider, attempt)


@contextmanager
def _provider_call(tracer: Tracer, model: str, provider: str, attempt: int) -> Iterator[None]:
    from opentelemetry.trace import SpanKind, Status, StatusCode

    attrs: dict[str, Attr] = {
        "gen_ai.request.model": model,
        "gen_ai.provider.name": provider,
        "docqueue.attempt": attempt,
    }
    # The exception is summarised by its type below: its message may quote the document.
    with tracer.start_as_current_span(
        "docqueue.provider_call",
        kind=SpanKind.CLIENT,
        attributes=attrs,
        record_exception=False,
        set_status_on_exception=False,
    ) as current:
        calls = _Calls(current)
        token = _CALLS.set(calls)
        outcome = "ok"
        try:
            yield
        except (ValidationError, json.JSONDecodeError):
            outcome = "invalid"  # the answer never matched the schema (or JSON), re-asks included
            raise
        except BaseException as exc:
            outcome = "error"
            current.set_attribute("error.type", type(exc).__name__)
            current.set_status(Status(StatusCode.ERROR))
            raise
        finally:
            _CALLS.reset(token)
            _finish_call(current, calls, outcome)


def _finish_call(current: Span, calls: _Calls, outcome: str) -> None:
    current.set_attributes(
        {
            "gen_ai.usage.input_tokens": calls.input_tokens,
            "gen_ai.usage.output_tokens": calls.output_tokens,
            "docqueue.cost_usd": calls.cost_usd,
            "docqueue.responses": calls.responses,
            "docqueue.outcome": outcome,
        }
    )
    if calls.last:
        current.set_attribute("docqueue.last_response", calls.last)


def record_call(record: CallRecord, cost_usd: Decimal) -> None:
    """Add one billed provider response to its provider-call span, and an event for it."""
    calls = _CALLS.get() if _tracer is not None else None
    if calls is None:
        return
    cost = float(cost_usd)
    calls.input_tokens += record.usage.input_tokens
    calls.output_tokens += record.usage.output_tokens
    calls.cost_usd += cost
    calls.responses += 1
    calls.last = record.outcome  # ok, validation_error, http_429, apitimeouterror...
    calls.span.add_event(
        RESPONSE_EVENT,
        {
            "gen_ai.usage.input_tokens": record.usage.input_tokens,
            "gen_ai.usage.output_tokens": record.usage.output_tokens,
            "docqueue.cost_usd": cost,
            "docqueue.outcome": record.outcome,
        },
    )


def _clean(attrs: dict[str, Attr | uuid.UUID | None]) -> dict[str, Attr]:
    return {
        key if "." in key else f"docqueue.{key}": str(value)
        if isinstance(value, uuid.UUID)
        else value
        for key, value in attrs.items()
        if value is not None
    }
