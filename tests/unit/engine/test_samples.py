"""Self-consistency in the engine: a second, independent sample is asked and billed, and only
ever a signal: its failure never costs the job the first sample's answer."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pytest
from pydantic import BaseModel

from schemas.config import DEFAULT_CONFIG, AppConfig, load_config
from schemas.extraction.registry import get_schema
from schemas.extractors.build import builtin_spec
from schemas.extractors.spec import ExtractorSpec
from schemas.trust.envelope import DATA, evidence_note, is_envelope
from tasks.engine import pipeline
from tasks.engine.cost import TokenUsage
from tasks.engine.llm import CallRecord
from tasks.engine.models import Billed, Engine, Outcome
from tasks.errors import ProviderError, ValidationFailed
from tasks.flow.breaker import MemoryCircuitBreaker
from tasks.flow.bucket import MemoryTokenBucket
from tasks.flow.budget import MemoryBudget
from tasks.flow.killswitch import MemoryKillSwitch
from tasks.flow.semaphore import MemorySlotLimiter
from tests.support.fakes import NoReplays
from tests.support.worker_fakes import SUMMARY, TEXT, enveloped

SECOND = {**SUMMARY, "title": "Memo (second look)"}
SAMPLE_2 = "Independent sample 2."


@dataclass
class Ledger(NoReplays):
    """A call ledger that remembers every row opened and every billed answer."""

    opened: list[str] = field(default_factory=list)
    billed: list[Billed] = field(default_factory=list)

    def open(self, *, model: str, **_: Any) -> int:
        """Open the next row."""
        self.opened.append(model)
        return len(self.opened)

    def close(self, billed: Billed) -> bool:
        """Complete a row."""
        self.billed.append(billed)
        return True


@dataclass
class Provider:
    """A fake provider: answers sample 1 with SUMMARY and sample 2 with SECOND, or fails one."""

    fail: dict[int, str] = field(default_factory=dict)  # sample -> "validation" | "provider"
    asked: list[tuple[int, list[dict[str, str]], type[BaseModel]]] = field(default_factory=list)

    def extract(
        self, *, model: str, provider: str, messages: list[dict[str, str]],
        response_model: type[BaseModel], sink: Any, opener: Any, **_: Any,
    ) -> BaseModel:  # fmt: skip
        """Bill one answered call, then answer (or fail) as the sample says."""
        number = 2 if SAMPLE_2 in messages[0]["content"] else 1
        self.asked.append((number, messages, response_model))
        sink(CallRecord(model, provider, TokenUsage(100, 20), 5, "ok", 200, opener()))
        if self.fail.get(number) == "validation":
            response_model.model_validate({})  # raises pydantic's ValidationError
        if self.fail.get(number) == "provider":
            raise ValueError("bad request shape")  # classified as not retryable
        if response_model.__name__ == "_Summary":  # the reduce of a chunked summary
            return response_model.model_validate({"summary": "The whole memo."})
        return enveloped(response_model, SUMMARY if number == 1 else SECOND)

    def samples(self) -> list[int]:
        """The sample number of each call, in order."""
        return [number for number, _, _ in self.asked]


def _engine(provider: Provider, ledger: Ledger, config: AppConfig | None = None) -> Engine:
    config = config or load_config(DEFAULT_CONFIG)
    return Engine(
        config=config,
        extract=provider.extract,
        limiter=MemorySlotLimiter(lease_ttl_s=30, heartbeat_s=10, acquire_timeout_s=5),
        rate=MemoryTokenBucket(),
        breaker=MemoryCircuitBreaker(config.breaker),
        budget=MemoryBudget(monthly_usd=Decimal(10)),
        killswitch=MemoryKillSwitch(cache_s=0),
        ledger=ledger,
        sleep=lambda _: None,
    )


def _summary_spec() -> ExtractorSpec:
    return builtin_spec(get_schema("document_summary"))


def _run(
    provider: Provider,
    ledger: Ledger,
    *,
    samples: int = 2,
    spec: ExtractorSpec | None = None,
    text: str = TEXT,
    config: AppConfig | None = None,
) -> Outcome:
    return pipeline.run(
        engine=_engine(provider, ledger, config),
        spec=spec or _summary_spec(),
        text=text,
        filename="memo.txt",
        tier="low",
        samples=samples,
    )


def _picked(data: dict[str, Any] | None) -> dict[str, Any]:
    assert data is not None
    return {key: data[key] for key in SUMMARY}


def test_the_second_sample_is_asked_as_independent_sample_two_and_both_are_billed() -> None:
    provider, ledger = Provider(), Ledger()
    outcome = _run(provider, ledger)
    assert provider.samples() == [1, 2]
    first, second = provider.asked[0][1][0]["content"], provider.asked[1][1][0]["content"]
    assert evidence_note() in first
    assert "Independent sample" not in first
    assert second.endswith(f"{evidence_note()} {SAMPLE_2}")
    assert provider.asked[0][1][1:] == provider.asked[1][1][1:]  # the same document
    assert len(ledger.opened) == len(ledger.billed) == 2
    assert all(b.cost_usd > 0 for b in ledger.billed)
    assert _picked(outcome.result) == SUMMARY
    assert _picked(outcome.second) == SECOND
    assert outcome.fit is not None
    assert outcome.fit.fits


def test_one_sample_asks_once_and_has_no_second() -> None:
    provider, ledger = Provider(), Ledger()
    outcome = _run(provider, ledger, samples=1)
    assert provider.samples() == [1]
    assert len(ledger.billed) == 1
    assert outcome.second is None


@pytest.mark.parametrize("failure", ["validation", "provider"])
def test_a_second_sample_that_fails_leaves_the_first_samples_result(failure: str) -> None:
    provider, ledger = Provider(fail={2: failure}), Ledger()
    outcome = _run(provider, ledger)
    assert _picked(outcome.result) == SUMMARY
    assert outcome.second is None
    assert outcome.model == "gpt-5.6-luna"  # the first sample's model, not a failover's
    assert 2 in provider.samples()
    assert len(ledger.billed) == len(provider.asked)  # the failed sample was billed too


@pytest.mark.parametrize(
    ("failure", "error"), [("validation", ValidationFailed), ("provider", ProviderError)]
)
def test_a_first_sample_that_fails_still_fails_the_run(
    failure: str, error: type[Exception]
) -> None:
    provider = Provider(fail={1: failure})
    with pytest.raises(error):
        _run(provider, Ledger())
    assert 2 not in provider.samples()  # no signal is bought for an answer that failed


def test_an_extractor_without_evidence_is_asked_once_with_its_plain_model() -> None:
    spec = dataclasses.replace(_summary_spec(), evidence=False)
    provider, ledger = Provider(), Ledger()
    outcome = _run(provider, ledger, spec=spec)
    assert provider.samples() == [1]
    _, messages, model = provider.asked[0]
    assert model is spec.model
    assert not is_envelope(model)
    assert DATA not in model.model_fields
    assert messages == spec.prompt.render(text=TEXT, filename="memo.txt")
    assert evidence_note() not in messages[0]["content"]
    assert outcome.fit is None
    assert outcome.quotes == []
    assert outcome.second is None
    assert _picked(outcome.result) == SUMMARY


def _chunking_config() -> AppConfig:
    config = load_config(DEFAULT_CONFIG)
    for name in config.tiers["low"].models:
        config.models[name].chunk_tokens = 120
    return config


LONG = "\n\n".join(f"Section {n}. " + "Revenue grew and costs fell. " * 12 for n in range(4))


def test_a_chunked_document_asks_each_chunk_twice_and_reduces_only_the_first_sample() -> None:
    provider, ledger = Provider(), Ledger()
    outcome = _run(provider, ledger, text=LONG, config=_chunking_config())
    assert outcome.chunks > 1
    enveloped_calls = [n for n, _, m in provider.asked if is_envelope(m)]
    assert enveloped_calls == [1, 2] * outcome.chunks
    reduces = [m for _, _, m in provider.asked if not is_envelope(m)]
    assert [m.__name__ for m in reduces] == ["_Summary"]  # the second sample is not reduced
    assert outcome.result["summary"] == "The whole memo."
    assert outcome.second is not None
    assert outcome.second["title"] == SECOND["title"]
    assert len(ledger.billed) == 2 * outcome.chunks + 1


def test_a_chunked_second_sample_that_failed_is_not_asked_for_the_later_chunks() -> None:
    provider, ledger = Provider(fail={2: "validation"}), Ledger()
    outcome = _run(provider, ledger, text=LONG, config=_chunking_config())
    assert outcome.chunks > 1
    assert provider.samples().count(2) == 1
    assert outcome.second is None
    assert outcome.result["title"] == SUMMARY["title"]
