"""Traces from real processes: one job's API request, dispatch and work, keyed by its id.

The stack's API, scheduler and workers export with the real OTLP/HTTP exporter to a receiver
in this process, which decodes the protobuf as a collector would.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tasks.observability.spans import JOB_ID, RESPONSE_EVENT
from tests.e2e.observability.otlp_receiver import OtlpReceiver, Received
from tests.support.stacks import LiveStack, StackFactory
from tests.support.tracing_probes import EXIT, probe
from tests.support.waits import wait_for, wait_job
from tests.support.webhook_receiver import Receiver

pytestmark = pytest.mark.e2e

SERVER, CLIENT, PRODUCER, CONSUMER = 2, 3, 4, 5  # opentelemetry.proto Span.SpanKind
# A letter first and at most 24 characters: the simulator may answer with it as a word.
CANARY = f"Qz{uuid.uuid4().hex[:20]}"
SECRET = f"s3cret{uuid.uuid4().hex[:12]}"  # in a webhook URL's path and query
TEXT = (
    f"Board memo {CANARY}. Marguerite Okonkwo-Lindqvist of Halvorsen Quarry Holdings told "
    "the board on 3 March that the Tromsø kiln overhaul ran 14 percent over budget, and "
    "proposed deferring the Narvik expansion until the slate contracts are renegotiated."
)


@pytest.fixture(scope="module")
def receiver() -> Iterator[OtlpReceiver]:
    """The collector every process of the stack exports to."""
    made = OtlpReceiver()
    yield made
    made.close()


@pytest.fixture(scope="module")
def hooks() -> Iterator[Receiver]:
    """A webhook receiver on loopback (the stack allows private webhook hosts)."""
    made = Receiver()
    yield made
    made.close()


@pytest.fixture(scope="module")
def traced(stack_factory: StackFactory, receiver: OtlpReceiver) -> Iterator[LiveStack]:
    """A stack tracing to `receiver`, exporting every 100 ms, with a webhook worker."""
    stack = stack_factory(
        name="tracing",
        extra_env={
            "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url,
            "OTEL_BSP_SCHEDULE_DELAY": "100",
            "WEBHOOK_ALLOW_PRIVATE": "true",
        },
        webhooks=True,
    )
    yield stack
    stack.close()


def _run(stack: LiveStack, text: str, **extra: str) -> dict[str, Any]:
    with stack.client() as client:
        body = {"schema": "document_summary", "tier": "low", "text": text, **extra}
        created = client.post("/v1/jobs", json=body)
        assert created.status_code == 202, created.text
        return wait_job(client, created.json()["id"])


@pytest.fixture(scope="module")
def job(traced: LiveStack) -> dict[str, Any]:
    """One job, succeeded, with a document no span may quote."""
    done = _run(traced, TEXT)
    assert done["status"] == "succeeded", done
    return done


@pytest.fixture(scope="module")
def refused(traced: LiveStack) -> dict[str, Any]:
    """One job whose every answer fails validation: errors, re-asks, the failure path."""
    done = _run(traced, f"{TEXT}\n[[sim:invalid]]")
    assert done["error"]["type"] == "validation_failed", done
    return done


def _one(found: list[Received], name: str) -> Received:
    named = [s for s in found if s.name == name]
    assert len(named) == 1, (name, [s.name for s in found])
    return named[0]


def _arrived(receiver: OtlpReceiver, key: str, value: str, wanted: set[str]) -> list[Received]:
    """Every span whose `key` is `value`, once each of the `wanted` names is among them."""

    def mine() -> list[Received] | None:
        found = [s for s in receiver.spans() if s.attributes.get(key) == value]
        return found if wanted <= {s.name for s in found} else None

    spans: list[Received] = wait_for(mine, timeout=30)
    return spans


@pytest.fixture(scope="module")
def job_spans(receiver: OtlpReceiver, job: dict[str, Any]) -> list[Received]:
    """Every span carrying the job's id, once the last of its kinds has arrived."""
    wanted = {"POST /v1/jobs", "docqueue.publish", "run/docqueue.extract", "docqueue.finish"}
    return _arrived(receiver, JOB_ID, job["id"], wanted)


@pytest.fixture(scope="module")
def work_trace(receiver: OtlpReceiver, job_spans: list[Received]) -> list[Received]:
    """The trace of the delivery that ran the job (the reconciler may have sent another)."""
    call = _one(job_spans, "docqueue.provider_call")
    return [s for s in receiver.spans() if s.trace_id == call.trace_id]


def test_the_api_request_that_created_the_job_is_one_server_span_naming_it(
    job_spans: list[Received],
) -> None:
    request = _one(job_spans, "POST /v1/jobs")
    assert (request.service, request.kind) == ("docqueue-api", SERVER)
    assert request.attributes.get("http.route") == "/v1/jobs"
    api = [s for s in job_spans if s.service == "docqueue-api"]
    assert [s.name for s in api if s.name.endswith((" send", " receive"))] == []


def _db(span: Received) -> object:
    return span.attributes.get("db.system", span.attributes.get("db.system.name"))


def test_publish_run_claim_provider_call_and_finish_form_one_trace_of_the_job(
    work_trace: list[Received], job: dict[str, Any]
) -> None:
    trace = work_trace
    publish = _one(trace, "docqueue.publish")
    assert (publish.service, publish.kind, publish.parent_id) == (
        "docqueue-scheduler",
        PRODUCER,
        "",
    )
    sent = _one(trace, "apply_async/docqueue.extract")
    run = _one(trace, "run/docqueue.extract")
    claim, call, finish = (
        _one(trace, f"docqueue.{n}") for n in ("claim", "provider_call", "finish")
    )
    assert sent.parent_id == publish.span_id
    assert (run.service, run.kind, run.parent_id) == ("docqueue-worker", CONSUMER, sent.span_id)
    assert [claim.parent_id, call.parent_id, finish.parent_id] == [run.span_id] * 3
    usage = job["usage"]
    assert call.attributes["gen_ai.request.model"] == job["model"]
    assert call.attributes["gen_ai.provider.name"] in ("openai", "anthropic")
    assert call.attributes["gen_ai.usage.input_tokens"] == usage["input_tokens"]
    assert call.attributes["gen_ai.usage.output_tokens"] == usage["output_tokens"]
    assert call.attributes["docqueue.cost_usd"] == pytest.approx(float(usage["cost_usd"]))
    assert call.attributes["docqueue.outcome"] == "ok"
    assert [n for n, _ in call.events] == [RESPONSE_EVENT]
    assert finish.attributes["docqueue.status"] == "succeeded"
    # the SDK's HTTP request to the provider, traced by the httpx2 instrumentation
    http = [s for s in trace if s.parent_id == call.span_id and s.name == "POST"]
    assert [s.kind for s in http] == [CLIENT]
    url = str(http[0].attributes.get("url.full", http[0].attributes.get("http.url")))
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+/v1/(chat/completions|messages)", url), url
    # and the SQL and Redis under it
    assert [s for s in trace if s.parent_id == claim.span_id and _db(s) == "postgresql"]
    assert [s for s in trace if s.service == "docqueue-worker" and _db(s) == "redis"]


def test_every_span_of_the_jobs_trace_carries_its_id(
    work_trace: list[Received], job: dict[str, Any]
) -> None:
    assert {s.attributes.get(JOB_ID) for s in work_trace} == {job["id"]}
    ours = [s for s in work_trace if s.name.startswith("docqueue.")]
    assert [s.name for s in ours if "docqueue.dropped_attributes" in s.attributes] == []


def test_a_created_batch_is_named_on_its_request_span(
    traced: LiveStack, receiver: OtlpReceiver
) -> None:
    with traced.client() as client:
        body = {"schema": "document_summary", "tier": "low", "documents": [{"text": "A memo."}]}
        created = client.post("/v1/batches", json=body)
    assert created.status_code == 202, created.text
    found = _arrived(receiver, "docqueue.batch_id", created.json()["id"], {"POST /v1/batches"})
    assert {(s.service, s.kind) for s in found if s.name == "POST /v1/batches"} == {
        ("docqueue-api", SERVER)
    }


@pytest.fixture(scope="module")
def refused_spans(receiver: OtlpReceiver, refused: dict[str, Any]) -> list[Received]:
    """The refused job's spans, once its API request and its finish have arrived."""
    return _arrived(receiver, JOB_ID, refused["id"], {"POST /v1/jobs", "docqueue.finish"})


def test_an_answer_that_never_validates_is_an_invalid_provider_call_of_a_failed_job(
    refused_spans: list[Received],
) -> None:
    mine = refused_spans
    call = _one(mine, "docqueue.provider_call")
    assert call.attributes["docqueue.outcome"] == "invalid"
    assert call.attributes["docqueue.responses"] == 2  # the answer and its one re-ask
    answers = [attrs for name, attrs in call.events if name == RESPONSE_EVENT]
    assert [a["docqueue.outcome"] for a in answers] == ["validation_error"] * 2
    finish = _one(mine, "docqueue.finish")
    assert finish.attributes["docqueue.status"] == "failed"
    assert finish.attributes["docqueue.error_type"] == "validation_failed"


@pytest.fixture(scope="module")
def delivered(traced: LiveStack, hooks: Receiver, receiver: OtlpReceiver) -> list[Received]:
    """A job whose webhook URL holds a secret, delivered: the webhook worker's POST spans."""
    path = f"/hooks/{SECRET}?token={SECRET}"
    _run(traced, TEXT, webhook_url=f"{hooks.url}{path}")
    wait_for(lambda: hooks.on(path), timeout=60)

    def posted() -> list[Received]:
        out = [s for s in receiver.spans() if s.name == "POST" and s.kind == CLIENT]
        return [s for s in out if "run/docqueue.webhook" in _ancestors(receiver, s)]

    found: list[Received] = wait_for(posted, timeout=30)
    return found


def _ancestors(receiver: OtlpReceiver, span: Received) -> set[str]:
    by_id = {s.span_id: s for s in receiver.spans()}
    names, parent = set(), by_id.get(span.parent_id)
    while parent is not None:
        names.add(parent.name)
        parent = by_id.get(parent.parent_id)
    return names


def test_a_webhook_post_span_records_only_the_receivers_origin(
    delivered: list[Received], hooks: Receiver
) -> None:
    urls = {str(s.attributes.get("url.full", s.attributes.get("http.url"))) for s in delivered}
    assert urls == {hooks.url}  # http://127.0.0.1:<port>: no path, no query
    assert [s.name for s in delivered if SECRET in s.everything()] == []


def test_background_work_starts_no_trace_of_its_own(
    receiver: OtlpReceiver, job_spans: list[Received], delivered: list[Received]
) -> None:
    # lease heartbeats, semaphore renewals, kombu and Celery events, polling, scrapes
    roots = [s for s in receiver.spans() if s.parent_id == "" and s.service.startswith("docqueue")]
    assert roots  # the requests', the publishes'
    stray = [s for s in roots if s.kind not in (SERVER, PRODUCER, CONSUMER)]
    assert [(s.service, s.name) for s in stray if not s.name.startswith("docqueue.")] == []


@pytest.mark.parametrize("leaving", ["pool_exit", "hand_back", "worker_shutdown"])
def test_a_worker_leaving_by_os_exit_still_exports_its_last_spans(
    receiver: OtlpReceiver, leaving: str
) -> None:
    env = {"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url, "OTEL_BSP_SCHEDULE_DELAY": "60000"}
    probe(EXIT, leaving, **env)  # the batch delay is a minute: only the exit path flushes
    wait_for(lambda: {s.service for s in receiver.spans()} >= {f"exit-{leaving}"}, timeout=10)


def test_no_span_of_any_process_carries_the_document_text(
    receiver: OtlpReceiver,
    job_spans: list[Received],
    refused_spans: list[Received],
    delivered: list[Received],
) -> None:
    everything = receiver.spans()
    assert {"docqueue-api", "docqueue-scheduler", "docqueue-worker"} <= {
        s.service for s in everything
    }
    statements = [
        s.attributes["db.statement"] for s in everything if "db.statement" in s.attributes
    ]
    assert any("INSERT INTO documents" in q for q in statements)  # the text's own INSERT
    pieces = {TEXT[i : i + 20] for i in range(len(TEXT) - 19)}
    words = set(re.findall(r"[^\W\d_][\w-]{7,}", TEXT))  # the simulator answers with words
    assert CANARY in words
    for span in everything:
        carried = span.everything()
        leaked = [p for p in pieces | words | {SECRET} if p in carried]
        assert not leaked, (span.service, span.name, leaked[:3])
