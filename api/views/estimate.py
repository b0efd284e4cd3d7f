"""The estimate's view: prepared documents and ledger figures in, EstimateOut out."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from api.intake.document import Prepared
from api.intake.lanes import LanePlan
from schemas.api import ErrorInfo
from schemas.batch_api import BatchDocument
from schemas.config import TIERS, AppConfig, Tier
from schemas.estimate_api import (
    EstimatedDocument,
    EstimateOut,
    LaneEstimate,
    OutputBasisOut,
    ReaskOut,
)
from schemas.extractors.spec import ExtractorSpec
from storage.estimates import Queued, Reasks, TierOutput
from tasks.engine import estimate as est


@dataclass(frozen=True)
class Ledger:
    """What the ledger and the queue say right now (storage/estimates.py)."""

    outputs: dict[str, TierOutput]
    reasks: Reasks
    queue: dict[str, Queued]
    call_s: dict[str, float]
    days: int


def samples_of(policy: dict[str, Any] | None, config: AppConfig) -> int:
    """Samples per chunk the jobs would take: two under self-consistency."""
    verify = (policy or {}).get("verify") or config.trust.verify
    return 2 if verify == "self_consistency" else 1


def estimate_out(
    *,
    spec: ExtractorSpec,
    plan: LanePlan,
    docs: list[BatchDocument],
    preps: list[Prepared],
    samples: int,
    ledger: Ledger,
    config: AppConfig,
    day: dt.date,
) -> EstimateOut:
    """Price every document, sum per lane, add re-asks, and reckon each lane's ETA."""
    bases = {
        tier: est.output_basis(
            tier=tier,
            history=_history(ledger.outputs.get(tier)),
            config=config,
        )
        for tier in TIERS
    }
    reasks = est.ReaskHistory(
        calls=ledger.reasks.calls,
        validation_errors=ledger.reasks.validation_errors,
        jobs=ledger.reasks.jobs,
        days=ledger.days,
    )
    rows: list[EstimatedDocument] = []
    costs: list[est.DocCost] = []
    for index, (doc, prep) in enumerate(zip(docs, preps, strict=True)):
        row, cost = _document(index, doc, prep, spec, plan, samples, bases, config, day)
        rows.append(row)
        if cost is not None:
            costs.append(cost)
    totals = est.lane_totals(costs, reasks)
    _realtime_eta(totals["realtime"], ledger, config)
    batch = totals["batch"]
    if batch.documents:
        batch.eta_s = est.batch_eta_s(config)
        batch.eta_basis = f"at most the providers' {config.batch_lane.window_h:g} h batch window"
    return EstimateOut(
        schema_name=spec.ref,
        lane=plan.lane,
        lane_reason=plan.reason,
        documents=rows,
        lanes={lane: _lane_out(total) for lane, total in totals.items()},
        output=[
            OutputBasisOut(
                tier=b.tier,
                tokens_per_call=b.tokens_per_call,
                source=b.source,
                jobs=b.jobs,
                cached_share=round(b.cached_share, 4),
            )
            for b in bases.values()
            if b.tier in {c.tier for c in costs}
        ],
        reasks=ReaskOut(
            share=round(reasks.share, 6),
            extra_per_call=round(reasks.extra_per_call, 6),
            calls=reasks.calls,
            validation_errors=reasks.validation_errors,
            jobs=reasks.jobs,
            days=reasks.days,
            source="ledger" if reasks.calls else "none",
        ),
    )


def _history(found: TierOutput | None) -> est.OutputHistory:
    if found is None:
        return est.OutputHistory()
    return est.OutputHistory(
        jobs=found.jobs,
        mean_output_tokens=found.mean_output_tokens,
        cached_share=found.cached_share,
    )


def _document(  # noqa: PLR0917 - one row of the loop above
    index: int,
    doc: BatchDocument,
    prep: Prepared,
    spec: ExtractorSpec,
    plan: LanePlan,
    samples: int,
    bases: dict[Tier, est.OutputBasis],
    config: AppConfig,
    day: dt.date,
) -> tuple[EstimatedDocument, est.DocCost | None]:
    """One document's row, and its cost unless it would fail at submission."""
    common = {
        "index": index,
        "key": doc.key,
        "filename": doc.filename,
        "tokens": prep.tokens,
        "tier": prep.tier,
        "tier_reason": prep.tier_reason,
        "lane": plan.lane,
    }
    if prep.invalid is not None:
        invalid = ErrorInfo(type=prep.invalid.reason, message=str(prep.invalid))
        return EstimatedDocument(**common, chunks=0, cost_usd="0", invalid=invalid), None
    chunks = est.chunk_count(text=prep.text, tokens=prep.tokens, tier=prep.tier, config=config)
    cost = est.doc_cost(
        tokens=prep.tokens,
        chunks=chunks,
        samples=samples,
        overhead=est.call_overhead(spec, doc.filename),
        tier=prep.tier,
        lane=plan.lane,
        output=bases[prep.tier],
        config=config,
        day=day,
    )
    return EstimatedDocument(**common, chunks=chunks, cost_usd=str(cost.cost_usd)), cost


def _realtime_eta(total: est.LaneTotal, ledger: Ledger, config: AppConfig) -> None:
    """The slowest tier's ETA; tiers run side by side on their own models."""
    if not total.documents:
        return
    etas: list[float] = []
    for tier, calls in total.per_tier_calls.items():
        model_name = config.tiers[tier].models[0]  # type: ignore[index]
        queue = ledger.queue.get(tier, Queued(0, 0))
        etas.append(
            est.realtime_eta_s(
                model=config.models[model_name],
                queue=est.QueueDepth(queue.jobs, queue.tokens),
                input_tokens=total.per_tier_input.get(tier, 0),
                calls=calls,
                call_s=ledger.call_s.get(model_name),
            )
        )
    total.eta_s = round(max(etas), 1)
    queued = sum(q.jobs for q in ledger.queue.values())
    total.eta_basis = (
        f"the slowest tier at its first model's tokens_per_minute and concurrency, behind "
        f"{queued} realtime jobs queued or running"
    )


def _lane_out(total: est.LaneTotal) -> LaneEstimate:
    return LaneEstimate(
        lane=total.lane,
        documents=total.documents,
        calls=total.calls,
        reask_calls=total.reask_calls,
        input_tokens=total.input_tokens,
        output_tokens=total.output_tokens,
        cost_usd=str(total.cost_usd),
        eta_s=total.eta_s,
        eta_basis=total.eta_basis,
    )
