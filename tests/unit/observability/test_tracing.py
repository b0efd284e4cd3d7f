"""Tracing: off without an endpoint; on fakes, a job's spans form its tree with only metadata."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from kombu.exceptions import OperationalError
from kombu.messaging import Producer
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.instrumentation.celery import CeleryInstrumentor
from opentelemetry.instrumentation.celery.utils import CTX_KEY
from opentelemetry.instrumentation.httpx import SyncOpenTelemetryTransport
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode
from pydantic import BaseModel

from tasks.celery.app import app, prepare_task_spans, register_published
from tasks.celery.publish import publish_jobs
from tasks.dispatch.queues import TASK_NAME
from tasks.observability import spans
from tasks.observability.span_guard import is_safe
from tasks.observability.tracing import build_provider, build_resource, otlp_exporter
from tasks.worker.process import Disposition, process_job
from tests.support.fakes import MemoryJobStore
from tests.support.tracing_probes import OFF, SCHEDULER, probe
from tests.support.worker_fakes import TEXT, USAGE, Flow, make_job, make_runtime

Exported = tuple[TracerProvider, InMemorySpanExporter]


def test_with_no_endpoint_set_setup_installs_and_instruments_nothing() -> None:
    assert probe(OFF) == {
        "celery": False,
        "spans": False,
        "provider": "ProxyTracerProvider",
        "loaded": [],
        "patched": ["function", "function", "function"],
    }


def test_a_traced_scheduler_registers_the_task_names_it_publishes_without_the_engine() -> None:
    found = probe(SCHEDULER, OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:9")
    assert found == {"on": True, "tasks": ["docqueue.extract", "docqueue.webhook"], "engine": False}


def test_an_endpoint_only_in_dotenv_is_where_the_exporter_sends(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_ENDPOINT", raising=False)
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", raising=False)
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("OTEL_EXPORTER_OTLP_ENDPOINT=http://collector.test:4318/\n")
    from tasks.observability.tracing import tracing_endpoint

    exporter = otlp_exporter(tracing_endpoint())
    assert isinstance(exporter, OTLPSpanExporter)
    assert exporter._endpoint == "http://collector.test:4318/v1/traces"
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://other.test/traces")
    exporter = otlp_exporter(tracing_endpoint())
    assert isinstance(exporter, OTLPSpanExporter)
    assert exporter._endpoint == "http://other.test/traces"


def test_the_resource_names_the_service_and_only_allow_listed_variables(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OTEL_SERVICE_NAME", "someone-else")
    monkeypatch.setenv("OTEL_RESOURCE_ATTRIBUTES", "deployment.environment=prod,tenant.key=s3cr3t")
    attrs = dict(build_resource("docqueue-worker").attributes)
    assert set(attrs) == {"service.name", "service.version", "deployment.environment"}
    assert (attrs["service.name"], attrs["deployment.environment"]) == ("docqueue-worker", "prod")


@pytest.fixture
def exported() -> Iterator[Exported]:
    """docqueue spans on, through the real provider (sampler, stamp and guard), into memory."""
    memory = InMemorySpanExporter()
    provider = build_provider("unit", memory)
    spans.enable(provider.get_tracer("docqueue"))
    yield provider, memory
    spans.disable()
    provider.shutdown()


def _finished(exported: Exported) -> dict[str, ReadableSpan]:
    provider, memory = exported
    provider.force_flush()
    return {s.name: s for s in memory.get_finished_spans()}


def test_a_job_on_fakes_traces_claim_provider_call_and_finish_under_its_task_span(
    exported: Exported,
) -> None:
    store = MemoryJobStore()
    job = make_job(store)
    celery = exported[0].get_tracer("celery")
    with celery.start_as_current_span("run/docqueue.extract", kind=SpanKind.CONSUMER):
        runtime = make_runtime(store, Flow())
        assert process_job(job_id=job.id, runtime=runtime).disposition is Disposition.DONE
    by_name = _finished(exported)
    run = by_name["run/docqueue.extract"]
    claim, call, finish = (by_name[f"docqueue.{n}"] for n in ("claim", "provider_call", "finish"))
    assert [child.parent for child in (claim, call, finish)] == [run.context] * 3
    in_order = sorted((finish, call, claim), key=lambda s: s.start_time or 0)
    assert [s.name for s in in_order] == [claim.name, call.name, finish.name]
    for each in (run, claim, call, finish):
        assert (each.attributes or {})[spans.JOB_ID] == str(job.id)
    attrs = dict(call.attributes or {})
    assert attrs["gen_ai.request.model"] == job.model
    assert attrs["gen_ai.provider.name"] == "openai"
    assert (attrs["gen_ai.usage.input_tokens"], attrs["gen_ai.usage.output_tokens"]) == (100, 20)
    assert attrs["docqueue.cost_usd"] == pytest.approx(float(job.cost_usd))
    assert attrs["docqueue.outcome"] == "ok"
    assert (finish.attributes or {})["docqueue.status"] == "succeeded"
    assert "docqueue.dropped_attributes" not in str([s.attributes for s in by_name.values()])


def test_each_billed_response_of_a_re_asked_call_is_an_event_with_its_tokens_and_cost(
    exported: Exported,
) -> None:
    store = MemoryJobStore()
    job = make_job(store)
    runtime = make_runtime(store, Flow(), responses=("validation_error", "ok"))
    assert process_job(job_id=job.id, runtime=runtime).disposition is Disposition.DONE
    call = _finished(exported)["docqueue.provider_call"]
    events = [dict(e.attributes or {}) for e in call.events if e.name == spans.RESPONSE_EVENT]
    assert [e["docqueue.outcome"] for e in events] == ["validation_error", "ok"]
    assert {(e["gen_ai.usage.input_tokens"], e["gen_ai.usage.output_tokens"]) for e in events} == {
        (USAGE.input_tokens, USAGE.output_tokens)
    }
    costs = [float(e["docqueue.cost_usd"]) for e in events]  # type: ignore[arg-type]
    assert sum(costs) == pytest.approx(float(job.cost_usd))
    assert (call.attributes or {})["docqueue.responses"] == 2


def _answer_json_error(model: type[BaseModel]) -> BaseModel:
    raise json.JSONDecodeError("Expecting value", "not json", 0)


def _answer_invalid(model: type[BaseModel]) -> BaseModel:
    return model.model_validate({"title": 7})


@pytest.mark.parametrize("answer", [_answer_invalid, _answer_json_error])
def test_an_answer_that_never_parses_or_validates_is_an_invalid_provider_call(
    exported: Exported, answer: object
) -> None:
    store = MemoryJobStore()
    job = make_job(store)
    process_job(job_id=job.id, runtime=make_runtime(store, Flow(), answer))  # type: ignore[arg-type]
    by_name = _finished(exported)
    call = dict(by_name["docqueue.provider_call"].attributes or {})
    assert call["docqueue.outcome"] == "invalid"
    assert call["docqueue.responses"] == 1  # the refused answer was billed all the same
    finish = dict(by_name["docqueue.finish"].attributes or {})
    assert (finish["docqueue.status"], finish["docqueue.error_type"]) == (
        "failed",
        "validation_failed",
    )


def test_background_roots_are_dropped_while_spans_under_a_job_or_request_are_kept(
    exported: Exported,
) -> None:
    tracer = exported[0].get_tracer("instrumentations")
    with tracer.start_as_current_span("EVALSHA", kind=SpanKind.CLIENT):  # a lease renewal
        pass
    with tracer.start_as_current_span("connect"):  # an instrumentation's bare INTERNAL root
        pass
    with tracer.start_as_current_span("run/docqueue.extract", kind=SpanKind.CONSUMER):
        sql = {"db.system": "postgresql", "db.statement": "UPDATE jobs SET attempts=%(a)s"}
        with tracer.start_as_current_span("UPDATE", kind=SpanKind.CLIENT, attributes=sql):
            pass
    with tracer.start_as_current_span("GET /v1/jobs", kind=SpanKind.SERVER):
        pass
    with spans.span("claim"):  # docqueue's own may start a trace
        pass
    by_name = _finished(exported)
    assert sorted(by_name) == ["GET /v1/jobs", "UPDATE", "docqueue.claim", "run/docqueue.extract"]
    assert dict(by_name["UPDATE"].attributes or {}).items() >= sql.items()


def test_outgoing_urls_are_cut_to_their_origin_and_a_provider_calls_to_its_path(
    exported: Exported,
) -> None:
    provider = exported[0]
    answer = httpx.MockTransport(lambda _request: httpx.Response(204))
    transport = SyncOpenTelemetryTransport(answer, tracer_provider=provider)
    tracer = provider.get_tracer("celery")
    with (
        httpx.Client(transport=transport) as client,
        tracer.start_as_current_span("run/docqueue.webhook", kind=SpanKind.CONSUMER),
    ):
        client.post("https://hooks.example.com/t/SECRETPATH?sig=SECRETQUERY")
        with spans.provider_call(model="gpt", provider="openai", attempt=1):
            client.post("http://127.0.0.1:8431/v1/chat/completions?api-key=SECRETKEY")
    provider.force_flush()
    posts = [s for s in exported[1].get_finished_spans() if s.name == "POST"]
    urls = [
        str({**(s.attributes or {})}.get("url.full", (s.attributes or {}).get("http.url")))
        for s in posts
    ]
    assert sorted(urls) == [
        "http://127.0.0.1:8431/v1/chat/completions",
        "https://hooks.example.com:443",
    ]
    assert "SECRET" not in str([s.to_json() for s in posts])


def test_a_docqueue_attribute_off_the_allow_list_is_dropped_not_exported(
    exported: Exported,
) -> None:
    with spans.span("claim"):
        spans.annotate(attempt=1, document_title=TEXT)
    claim = dict(_finished(exported)["docqueue.claim"].attributes or {})
    assert (claim["docqueue.attempt"], claim["docqueue.dropped_attributes"]) == (1, 1)
    assert "docqueue.document_title" not in claim


def test_the_guard_keeps_metadata_and_drops_text_from_attributes_errors_and_status(
    exported: Exported,
) -> None:
    tracer = exported[0].get_tracer("unit")
    with tracer.start_as_current_span(
        "POST /v1/jobs", kind=SpanKind.SERVER, record_exception=False
    ) as current:
        current.set_attributes({"http.route": "/v1/jobs", "llm.prompt": TEXT})
        current.set_attribute("celery.retry.reason", f"OperationalError: [parameters: {TEXT}]")
        current.record_exception(ValueError(f"input_value='{TEXT}'"))
        current.set_status(StatusCode.ERROR, f"ValueError: {TEXT}")
    span = _finished(exported)["POST /v1/jobs"]
    assert (span.attributes or {})["http.route"] == "/v1/jobs"
    assert (span.attributes or {})["docqueue.dropped_attributes"] == 4  # 2 + message, stack
    (event,) = span.events
    assert dict(event.attributes or {}) == {
        "exception.type": "ValueError",
        "exception.escaped": "False",
    }
    assert span.status.status_code is StatusCode.ERROR
    assert TEXT[:20] not in span.to_json()


@pytest.mark.parametrize(
    ("key", "safe"),
    [
        ("db.statement", True),
        ("http.route", True),
        ("gen_ai.usage.input_tokens", True),
        ("docqueue.job_id", True),
        ("docqueue.document_title", False),
        ("gen_ai.prompt", False),
        ("exception.message", False),
        ("exception.stacktrace", False),
        ("db.query.parameter.text", False),
        ("http.request.header.authorization", False),
    ],
)
def test_only_metadata_attribute_names_may_be_exported(key: str, safe: bool) -> None:
    assert is_safe(key) is safe


def test_every_registered_task_holds_its_span_dict_before_any_thread_runs_it() -> None:
    prepare_task_spans()
    assert all(isinstance(getattr(t, CTX_KEY, None), dict) for t in app.tasks.values())


@pytest.fixture
def celery_traced(exported: Exported) -> Iterator[Exported]:
    """Celery's instrumentation on, into `exported`, with the published task names known."""
    placeholders = register_published()
    CeleryInstrumentor().instrument(tracer_provider=exported[0])  # type: ignore[no-untyped-call]
    yield exported
    CeleryInstrumentor().uninstrument()  # type: ignore[no-untyped-call]
    for name in placeholders:
        app.tasks.unregister(name)


def test_a_publish_the_broker_refuses_ends_both_publish_spans_as_errors(
    celery_traced: Exported, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refused(*_: object, **__: object) -> None:
        raise ConnectionRefusedError("broker down")

    monkeypatch.setattr(Producer, "publish", refused)
    with pytest.raises(OperationalError):
        publish_jobs([(uuid.uuid4(), "low")])
    assert trace.get_current_span() is trace.INVALID_SPAN  # nothing left current
    by_name = _finished(celery_traced)
    ours, celery = by_name["docqueue.publish"], by_name[f"apply_async/{TASK_NAME}"]
    assert celery.parent is not None
    assert celery.parent.span_id == ours.context.span_id
    # Ours is an error; Celery's is ended (exported), its status varies with test order.
    assert ours.status.status_code is StatusCode.ERROR
