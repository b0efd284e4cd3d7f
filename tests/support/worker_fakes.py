"""The worker core on in-memory ports: a runtime, a queued job and its flow backends."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from pydantic import BaseModel

from schemas.config import Settings
from schemas.extraction.registry import get_schema
from schemas.trust.envelope import DATA, EVIDENCE, FIT
from storage.models import Job
from tasks.engine.cost import TokenUsage
from tasks.engine.llm import CallRecord
from tasks.flow.breaker import MemoryCircuitBreaker
from tasks.flow.bucket import MemoryTokenBucket
from tasks.flow.budget import MemoryBudget
from tasks.flow.killswitch import MemoryKillSwitch
from tasks.flow.semaphore import MemorySlotLimiter
from tasks.worker.runtime import Runtime
from tests.support.fakes import MemoryJobStore

TEXT = "Quarterly memo. Revenue grew. Costs fell."
SUMMARY = {"title": "Memo", "summary": "Revenue grew.", "key_points": [], "language": "en"}
USAGE = TokenUsage(100, 20)  # what each fake provider response bills

Answer = Callable[[type[BaseModel]], BaseModel]


@dataclass
class Flow:
    """The in-memory flow-control backends (their contract suites prove them like Redis)."""

    budget: MemoryBudget = field(default_factory=lambda: MemoryBudget(monthly_usd=Decimal(10)))
    killswitch: MemoryKillSwitch = field(default_factory=lambda: MemoryKillSwitch(cache_s=0))


def enveloped(model: type[BaseModel], data: Any, evidence: Sequence[Any] = ()) -> BaseModel:
    """`data` as `model` answers it: inside the evidence envelope when the engine asks so."""
    if DATA in model.model_fields:
        fit = {"fits": True, "reason": "a test document"}
        return model.model_validate({FIT: fit, DATA: data, EVIDENCE: list(evidence)})
    return model.model_validate(data)


def summary_answer(model: type[BaseModel]) -> BaseModel:
    """A model's answer that validates: SUMMARY."""
    return enveloped(model, SUMMARY)


def make_runtime(
    store: MemoryJobStore,
    flow: Flow,
    answer: Answer = summary_answer,
    *,
    responses: Sequence[str] = ("ok",),
) -> Runtime:
    """A runtime whose provider bills one response per entry of `responses` (its outcome:
    earlier ones stand for re-asked answers), then gives `answer`."""

    def extract(*, model: str, provider: str, response_model: type[BaseModel], sink: Any,
                opener: Any, **_: Any) -> BaseModel:  # fmt: skip
        for outcome in responses:
            call_id = opener()  # as the real one: the row is opened before the request leaves
            sink(CallRecord(model, provider, USAGE, latency_ms=5, outcome=outcome, call_id=call_id))
        return answer(response_model)

    settings = Settings()
    return Runtime(
        settings=settings,
        store=store,
        extract=extract,
        limiter=MemorySlotLimiter(lease_ttl_s=30, heartbeat_s=10, acquire_timeout_s=5),
        rate=MemoryTokenBucket(),
        breaker=MemoryCircuitBreaker(settings.app.breaker),
        killswitch=flow.killswitch,
        budget_for=lambda _tenant, _job: flow.budget,
        worker_id="unit:1",
    )


def make_job(store: MemoryJobStore, *, reuse: bool = False, sha: str | None = None) -> Job:
    """A queued document_summary job of TEXT, added to `store`."""
    spec = get_schema("document_summary")
    job = Job(
        id=uuid.uuid4(),
        tenant_id=uuid.UUID(int=1),
        schema_name=spec.name,
        schema_version=spec.version,
        prompt_version=spec.prompt.version,
        tier="low",
        reuse=reuse,
        document_sha256=sha,
        cost_usd=Decimal(0),
        filename="memo.txt",
    )
    return store.add(job, TEXT)
