"""process_job, the worker core, on in-memory ports: every delivery ends in one clear state."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
import redis
from pydantic import BaseModel

from schemas.jobs import ErrorType, JobStatus
from tasks.flow.budget import MemoryBudget, Spend
from tasks.observability import metrics
from tasks.worker.process import Disposition, Processed, process_job
from tests.support.fakes import MemoryJobStore
from tests.support.worker_fakes import SUMMARY, Flow
from tests.support.worker_fakes import make_job as _job
from tests.support.worker_fakes import make_runtime as _runtime
from tests.support.worker_fakes import summary_answer as _summary


@pytest.fixture
def store() -> MemoryJobStore:
    return MemoryJobStore()


def test_a_job_whose_model_answers_succeeds_with_its_call_in_the_ledger(
    store: MemoryJobStore,
) -> None:
    job, flow = _job(store), Flow()
    assert process_job(job_id=job.id, runtime=_runtime(store, flow)).disposition is Disposition.DONE
    assert job.status == JobStatus.SUCCEEDED
    assert job.result is not None
    assert {k: job.result[k] for k in SUMMARY} == SUMMARY
    assert job.model == "gpt-5.6-luna"
    assert [(r.job_id, r.attempt, r.seq, r.outcome) for r in store.ledger] == [(job.id, 1, 1, "ok")]
    assert job.cost_usd > 0
    month = job.cost_usd  # the settled spend is exactly what the ledger billed
    assert sum(p.spent_usd for p in [flow_spend(flow)]) == month
    assert store.finished == [job.id]


def test_a_second_delivery_of_a_running_job_is_skipped_without_a_call(
    store: MemoryJobStore,
) -> None:
    job = _job(store)
    assert store.claim(job_id=job.id, worker="other:2", lease_s=60) is not None
    assert (
        process_job(job_id=job.id, runtime=_runtime(store, Flow())).disposition
        is Disposition.SKIPPED
    )
    assert (job.status, job.worker, store.ledger) == (JobStatus.RUNNING, "other:2", [])


def test_the_kill_switch_hands_the_job_back_to_the_queue_instead_of_failing_it(
    store: MemoryJobStore,
) -> None:
    job = _job(store)
    flow = Flow()
    flow.killswitch.set(True, reason="unit test")
    assert (
        process_job(job_id=job.id, runtime=_runtime(store, flow)).disposition
        is Disposition.RELEASED
    )
    assert (job.status, job.error_type, store.ledger, store.finished) == (
        JobStatus.QUEUED,
        None,
        [],
        [],
    )


def test_an_answer_that_never_validates_fails_the_job_as_validation_failed(
    store: MemoryJobStore,
) -> None:
    def invalid(model: type[BaseModel]) -> BaseModel:
        return model.model_validate({"title": 7})  # raises pydantic.ValidationError

    job = _job(store)
    assert process_job(job_id=job.id, runtime=_runtime(store, Flow(), invalid)) == Processed(
        Disposition.FAILED, "validation_failed"
    )
    assert job.status == JobStatus.FAILED
    assert job.error_type == ErrorType.VALIDATION_FAILED
    assert len(store.ledger) == 1  # the failed answer was billed all the same
    assert store.finished == [job.id]


def test_an_unexpected_error_fails_the_job_as_internal_with_the_exception_named(
    store: MemoryJobStore,
) -> None:
    job = _job(store)
    job.schema_name = "no_such_schema"  # the registry raises a non-task error
    assert process_job(job_id=job.id, runtime=_runtime(store, Flow())) == Processed(
        Disposition.FAILED, "internal_error"
    )
    assert (job.status, job.error_type) == (JobStatus.FAILED, ErrorType.INTERNAL)
    assert (job.error_message or "").startswith("UnknownSchemaError: unknown schema")
    assert store.ledger == []


def test_a_provider_exception_fails_the_job_as_a_provider_error(
    store: MemoryJobStore,
) -> None:
    def crash(model: type[BaseModel]) -> BaseModel:
        raise ZeroDivisionError("boom")

    job = _job(store)
    assert process_job(job_id=job.id, runtime=_runtime(store, Flow(), crash)) == Processed(
        Disposition.FAILED, "provider_error"
    )
    assert (job.status, job.error_type) == (JobStatus.FAILED, ErrorType.PROVIDER_ERROR)


def test_a_write_after_a_newer_attempt_took_the_job_is_fenced_out(
    store: MemoryJobStore,
) -> None:
    job = _job(store)

    def stolen(model: type[BaseModel]) -> BaseModel:
        job.attempts += 1  # the lease expired and another worker re-claimed the job
        return _summary(model)

    assert process_job(job_id=job.id, runtime=_runtime(store, Flow(), stolen)).disposition is (
        Disposition.FENCED
    )
    assert (job.status, job.result, store.finished) == (JobStatus.RUNNING, None, [])


def test_a_reusable_earlier_extraction_is_copied_without_a_provider_call(
    store: MemoryJobStore,
) -> None:
    first = _job(store, sha="same-document")
    process_job(job_id=first.id, runtime=_runtime(store, Flow()))
    calls = len(store.ledger)
    again = _job(store, reuse=True, sha="same-document")
    assert (
        process_job(job_id=again.id, runtime=_runtime(store, Flow())).disposition
        is Disposition.DONE
    )
    assert (again.status, again.result, again.cache_hit) == (
        JobStatus.SUCCEEDED,
        first.result,
        True,
    )
    assert len(store.ledger) == calls


def test_a_budget_that_cannot_cover_the_worst_case_fails_the_job_before_any_call(
    store: MemoryJobStore,
) -> None:
    job, flow = _job(store), Flow(budget=MemoryBudget(monthly_usd=Decimal(0)))
    assert process_job(job_id=job.id, runtime=_runtime(store, flow)) == Processed(
        Disposition.FAILED, "budget_exceeded"
    )
    assert (job.status, job.error_type, store.ledger) == (
        JobStatus.FAILED,
        ErrorType.BUDGET_EXCEEDED,
        [],
    )


def flow_spend(flow: Flow) -> Spend:
    """This month's spend of the flow's budget."""
    return flow.budget.spend(dt.datetime.now(dt.UTC).strftime("%Y-%m"))


def test_a_job_with_no_text_fails_as_document_invalid_without_a_provider_call(
    store: MemoryJobStore,
) -> None:
    job = _job(store)
    store.texts[job.document_sha256 or ""] = "  \n "
    assert process_job(job_id=job.id, runtime=_runtime(store, Flow())) == Processed(
        Disposition.FAILED, "document_invalid"
    )
    assert (job.status, job.error_type, store.ledger) == (
        JobStatus.FAILED,
        ErrorType.DOCUMENT_INVALID,
        [],
    )


class _BlipAfterCall:
    """A port whose post-call bookkeeping hits a Redis outage (the call itself went out)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def _blip(self, *_: Any, **__: Any) -> None:
        raise redis.ConnectionError("Connection refused")

    correct = record = _blip


@pytest.mark.parametrize("port", ["rate", "breaker"])
def test_a_redis_blip_in_bookkeeping_after_a_successful_call_never_reruns_the_job(
    store: MemoryJobStore, port: str
) -> None:
    job = _job(store)
    runtime = _runtime(store, Flow())
    setattr(runtime, port, _BlipAfterCall(getattr(runtime, port)))
    failures = _bookkeeping_failures()
    assert process_job(job_id=job.id, runtime=runtime).disposition is Disposition.DONE
    assert (job.status, len(store.ledger)) == (JobStatus.SUCCEEDED, 1)
    assert _bookkeeping_failures() > failures


def _bookkeeping_failures() -> float:
    return sum(
        sample.value
        for metric in metrics.BOOKKEEPING_FAILURES.collect()
        for sample in metric.samples
        if sample.name.endswith("_total")
    )
