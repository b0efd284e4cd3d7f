"""Estimate arithmetic: what a submission would cost and how long it would take, no calls made.

The model, per document on tier T in lane L (docs/estimates in the route's docstring too):
- calls = chunks x samples (a second sample per chunk under self-consistency);
- input tokens = document tokens x samples + calls x overhead, where the overhead is what
  the engine adds to every call (the rendered prompt without the document, the evidence
  note, the tool definition: `chain.schema_tokens`);
- output tokens = calls x the tenant's mean output tokens per successful call of that
  extractor and tier, once it has MIN_HISTORY_JOBS finished jobs; else DEFAULT_OUTPUT_SHARE
  of the tier's max_output_tokens; with that history, its share of cached input tokens
  (the providers' prompt cache) is billed at the cached price too, else none is;
- re-asks: with a share r of the tenant's calls failing validation (last 30 days), each
  call takes r / (1 - r) extra calls on average, billed like the call itself;
- price: the tier's first model at today's price in L (the chain falls back only on errors).
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from pydantic import BaseModel

from schemas.config import AppConfig, ModelConfig, Tier
from schemas.extractors.spec import ExtractorSpec
from schemas.lanes import Lane
from schemas.trust.envelope import answer_model
from tasks.documents.chunking import split_document
from tasks.documents.tokens import estimate_tokens
from tasks.engine.chain import schema_tokens
from tasks.engine.cost import MICRO, TokenUsage, call_cost
from tasks.engine.evidence import with_evidence_note

MIN_HISTORY_JOBS = 20  # finished jobs before the tenant's own output sizes are trusted
DEFAULT_OUTPUT_SHARE = 0.25  # of max_output_tokens, without enough history
MAX_REASK_SHARE = 0.9  # a share past this would make r / (1 - r) explode
DEFAULT_CALL_S = 5.0  # a call's duration when the ledger has none for the model
MINUTE_S = 60.0


@dataclass(frozen=True)
class OutputHistory:
    """A tenant's finished jobs of one extractor and tier: how many, mean output per call,
    and the share of their input the provider served from its prompt cache."""

    jobs: int = 0
    mean_output_tokens: float | None = None
    cached_share: float = 0.0


@dataclass(frozen=True)
class OutputBasis:
    """The output tokens per call an estimate uses for one tier, and where they come from."""

    tier: Tier
    tokens_per_call: int
    source: str  # "history" or "default"
    jobs: int
    cached_share: float = 0.0  # of the input, billed at the cached price


def output_basis(*, tier: Tier, history: OutputHistory, config: AppConfig) -> OutputBasis:
    """History once it covers MIN_HISTORY_JOBS jobs, else a share of the tier's output cap."""
    if history.jobs >= MIN_HISTORY_JOBS and history.mean_output_tokens is not None:
        tokens = round(history.mean_output_tokens)
        cached = min(max(history.cached_share, 0.0), 1.0)
        return OutputBasis(tier, tokens, "history", history.jobs, cached)
    cap = config.tiers[tier].max_output_tokens
    return OutputBasis(tier, round(cap * DEFAULT_OUTPUT_SHARE), "default", history.jobs)


@dataclass(frozen=True)
class ReaskHistory:
    """The tenant's calls over the window: all, those that failed validation, their jobs."""

    calls: int = 0
    validation_errors: int = 0
    jobs: int = 0
    days: int = 30

    @property
    def share(self) -> float:
        """The share of calls that failed validation (0 without history)."""
        return self.validation_errors / self.calls if self.calls else 0.0

    @property
    def extra_per_call(self) -> float:
        """Expected re-asks per successful call: r / (1 - r), r capped at MAX_REASK_SHARE."""
        r = min(self.share, MAX_REASK_SHARE)
        return r / (1 - r)


def call_overhead(spec: ExtractorSpec, filename: str | None) -> int:
    """Tokens every call adds beside the document: prompt, evidence note, tool definition."""
    messages = spec.prompt.render(text="", filename=filename)
    if spec.evidence:
        messages = with_evidence_note(messages)
    response: type[BaseModel] = answer_model(spec.model) if spec.evidence else spec.model
    return sum(estimate_tokens(m["content"]) for m in messages) + schema_tokens(response)


def chunk_count(*, text: str | None, tokens: int, tier: Tier, config: AppConfig) -> int:
    """How many chunks the engine splits a document into on `tier` (1 when it fits)."""
    chunk_tokens = config.models[config.tiers[tier].models[0]].chunk_tokens
    if text is None or tokens <= chunk_tokens:
        return 1
    return len(
        split_document(
            text=text, max_tokens=chunk_tokens, overlap_chars=config.chunking.overlap_chars
        )
    )


@dataclass(frozen=True)
class DocCost:
    """One document's expected usage in its lane (re-asks excluded: they are added per lane)."""

    tier: Tier
    lane: Lane
    calls: int
    input_tokens: int
    output_tokens: int
    cost_usd: Decimal


def lane_model(config: AppConfig, tier: Tier) -> ModelConfig:
    """The model a tier's calls go to first."""
    return config.models[config.tiers[tier].models[0]]


def price_lane(model: ModelConfig, lane: Lane) -> Lane:
    """`lane`, or realtime for a model without batch prices (its calls stay live)."""
    return "realtime" if lane == "batch" and not model.batch_prices else lane


def doc_cost(
    *,
    tokens: int,
    chunks: int,
    samples: int,
    overhead: int,
    tier: Tier,
    lane: Lane,
    output: OutputBasis,
    config: AppConfig,
    day: dt.date,
) -> DocCost:
    """A document's calls, tokens and cost on `tier` in `lane` (prices of `day`)."""
    calls = chunks * samples
    input_tokens = tokens * samples + calls * overhead
    output_tokens = calls * output.tokens_per_call
    model = lane_model(config, tier)
    cached = round(input_tokens * output.cached_share)
    usage = TokenUsage(input_tokens=input_tokens, output_tokens=output_tokens, cached_tokens=cached)
    cost = call_cost(model=model, usage=usage, day=day, lane=price_lane(model, lane))
    return DocCost(tier, lane, calls, input_tokens, output_tokens, cost)


@dataclass
class LaneTotal:
    """What a lane's documents add up to, re-asks included, and when they would be done."""

    lane: Lane
    documents: int = 0
    calls: int = 0
    reask_calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: Decimal = Decimal(0)
    eta_s: float | None = None
    eta_basis: str = ""
    per_tier_input: dict[str, int] = field(default_factory=dict)
    per_tier_calls: dict[str, int] = field(default_factory=dict)


def lane_totals(docs: list[DocCost], reasks: ReaskHistory) -> dict[Lane, LaneTotal]:
    """Sum documents per lane, then add the expected re-asks as a share of each lane's usage."""
    totals: dict[Lane, LaneTotal] = {"realtime": LaneTotal("realtime"), "batch": LaneTotal("batch")}
    for doc in docs:
        total = totals[doc.lane]
        total.documents += 1
        total.calls += doc.calls
        total.input_tokens += doc.input_tokens
        total.output_tokens += doc.output_tokens
        total.cost_usd += doc.cost_usd
        total.per_tier_input[doc.tier] = total.per_tier_input.get(doc.tier, 0) + doc.input_tokens
        total.per_tier_calls[doc.tier] = total.per_tier_calls.get(doc.tier, 0) + doc.calls
    extra = reasks.extra_per_call
    for total in totals.values():
        # a re-ask resends the call: it costs about what the call itself costs
        total.reask_calls = math.ceil(total.calls * extra) if extra else 0
        total.input_tokens += round(total.input_tokens * extra)
        total.output_tokens += round(total.output_tokens * extra)
        total.cost_usd = (total.cost_usd * Decimal(str(1 + extra))).quantize(
            MICRO, rounding=ROUND_HALF_UP
        )
    return totals


@dataclass(frozen=True)
class QueueDepth:
    """Realtime jobs of one tier already queued or running (all tenants), and their tokens."""

    jobs: int = 0
    tokens: int = 0


def realtime_eta_s(
    *,
    model: ModelConfig,
    queue: QueueDepth,
    input_tokens: int,
    calls: int,
    call_s: float | None,
) -> float:
    """Seconds until a tier has worked through its queue and these calls, at its first model's caps.

    The slower of two bounds: the tokens-per-minute budget over every queued token (the
    queue's document tokens and these calls' input), and `concurrency` calls at a time,
    each taking `call_s` (the ledger's mean, else DEFAULT_CALL_S), over the queued jobs
    and these calls.
    """
    by_tokens = (queue.tokens + input_tokens) / model.tokens_per_minute * MINUTE_S
    by_slots = (queue.jobs + calls) * (call_s or DEFAULT_CALL_S) / model.concurrency
    return max(by_tokens, by_slots)


def batch_eta_s(config: AppConfig) -> float:
    """The batch lane's upper bound: the providers' completion window."""
    return config.batch_lane.window_h * 3600.0
