"""The extraction engine: chunk, call the model chain per chunk, merge.

Pure orchestration: every outside service arrives through `Engine`'s ports, so tests can
drive it directly and the Celery task stays a thin edge. Each call asks for the extractor's
model inside the evidence envelope (schemas/trust/envelope.py): the result comes back with
a quote per field and a verdict on whether the document fits the schema.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ValidationError

from schemas.config import Tier
from schemas.extraction.partial import partial_model
from schemas.extractors.spec import ExtractorSpec
from schemas.trust.envelope import DocumentFit, answer_model
from tasks.documents.chunking import split_document
from tasks.documents.errors import DocumentInvalid
from tasks.engine.chain import CallStats, brief, call_chain
from tasks.engine.evidence import combine_fit, remap_quotes, with_evidence_note
from tasks.engine.merge import merge_partials, reduce_prompt
from tasks.engine.models import Billed, Engine, Outcome
from tasks.errors import ProviderError, ValidationFailed

__all__ = ["Billed", "Engine", "Outcome", "call_chain", "partial_model", "run"]


@dataclass
class _Sample:
    """One sample's answers, chunk by chunk."""

    data: list[dict[str, Any]] = field(default_factory=list)
    quotes: list[list[tuple[str, str]]] = field(default_factory=list)
    fits: list[DocumentFit] = field(default_factory=list)
    failed: bool = False  # a second sample that could not be had: no signal, no failure


def _keep(sample: _Sample, parsed: BaseModel, *, enveloped: bool) -> None:
    """One chunk's answer into its sample (an answer without the envelope has no quotes)."""
    if not enveloped:
        sample.data.append(parsed.model_dump(mode="json"))
        sample.quotes.append([])
        return
    sample.data.append(parsed.data.model_dump(mode="json"))  # type: ignore[attr-defined]
    sample.quotes.append([(q.path, q.quote) for q in parsed.evidence])  # type: ignore[attr-defined]
    sample.fits.append(parsed.document_fit)  # type: ignore[attr-defined]


def run(
    *,
    engine: Engine,
    spec: ExtractorSpec,
    text: str,
    filename: str | None,
    tier: Tier,
    samples: int = 1,
) -> Outcome:
    """Extract `text` into `spec`'s schema on `tier`, chunking and merging when needed.

    `samples` = 2 asks each chunk twice, independently (self-consistency): both are billed,
    the first is the result and the second only a trust signal.
    """
    # Defence in depth: the API and retries already refuse this. isspace() scans without
    # copying the document, unlike strip(), and this runs on every job.
    if not text or text.isspace():
        raise DocumentInvalid("empty", "the document has no text to extract")
    tier_cfg = engine.config.tiers[tier]
    first_model = engine.config.models[tier_cfg.models[0]]
    chunks = split_document(
        text=text,
        max_tokens=first_model.chunk_tokens,
        overlap_chars=engine.config.chunking.overlap_chars,
    )
    deadline = engine.clock() + engine.config.retry.max_wall_s * max(1, len(chunks)) * samples
    # A chunk holds part of the document: whole-document checks (totals, required fields)
    # only apply to the merged result, so each chunk is extracted into a relaxed model.
    model = spec.model if len(chunks) == 1 else spec.chunk_model
    answer_cls = answer_model(model) if spec.evidence else model
    stats = CallStats()
    runs = [_Sample() for _ in range(max(1, samples) if spec.evidence else 1)]
    model_used = ""
    for index, chunk in enumerate(chunks):
        base = spec.prompt.render(
            text=chunk,
            filename=filename,
            chunk_index=index if len(chunks) > 1 else None,
            chunk_count=len(chunks) if len(chunks) > 1 else None,
        )
        for number, sample in enumerate(runs, start=1):
            if sample.failed:
                continue
            try:
                parsed, used = call_chain(
                    engine=engine,
                    tier=tier,
                    messages=with_evidence_note(base, number) if spec.evidence else base,
                    response_model=answer_cls,
                    chunk=index if len(chunks) > 1 else None,
                    deadline=deadline,
                    stats=stats if number == 1 else None,  # the result's re-asks only
                )
            except (ValidationFailed, ProviderError):
                if number == 1:
                    raise
                # The second sample is only a signal: its failure (billed all the same)
                # must not cost the job its good, paid-for answer.
                sample.failed = True
                continue
            model_used = used if number == 1 else model_used
            _keep(sample, parsed, enveloped=spec.evidence)
    first = runs[0]
    result, quotes = _combine(engine, spec, tier, first, deadline, reduce=True)
    second = None
    if len(runs) > 1 and not runs[1].failed:
        second = _combine(engine, spec, tier, runs[1], deadline, reduce=False)[0]
    return Outcome(
        result=result,
        model=model_used,
        chunks=len(chunks),
        quotes=quotes,
        fit=combine_fit(first.fits) if spec.evidence else None,
        reasks=stats.reasks,
        chunk_results=first.data if len(chunks) > 1 else [],
        second=second,
    )


def _combine(
    engine: Engine,
    spec: ExtractorSpec,
    tier: Tier,
    sample: _Sample,
    deadline: float,
    *,
    reduce: bool,
) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """One sample's chunks as one validated result, with its quotes pointing into it."""
    if len(sample.data) == 1:
        return sample.data[0], sample.quotes[0]
    merged = merge_partials(
        partials=sample.data,
        list_fields=list(spec.merge.list_fields),
        summary_fields=list(spec.merge.summary_fields),
    )
    result = dict(merged.merged)
    for name in merged.needs_reduce if reduce else ():
        values = [str(p[name]) for p in sample.data if p.get(name)]
        result[name] = _reduce(engine, tier, name, values, deadline)
    try:
        final = spec.model.model_validate(result).model_dump(mode="json")
    except ValidationError as exc:
        if not reduce:  # the second sample is only a signal: keep it as merged
            return result, []
        raise ValidationFailed(f"merged chunks failed validation: {brief(exc)}") from exc
    quotes = [
        quote
        for data, chunk_quotes in zip(sample.data, sample.quotes, strict=True)
        for quote in remap_quotes(
            chunk_data=data, merged=final, quotes=chunk_quotes, list_fields=spec.merge.list_fields
        )
    ]
    return final, quotes


class _Summary(BaseModel):
    """The reduce call's answer."""

    summary: str


def _reduce(engine: Engine, tier: Tier, name: str, values: list[str], deadline: float) -> str:
    messages = [
        {"role": "system", "content": "You combine partial summaries of one document."},
        {"role": "user", "content": reduce_prompt(field=name, values=values)},
    ]
    parsed, _ = call_chain(
        engine=engine,
        tier=tier,
        messages=messages,
        response_model=_Summary,
        chunk=None,
        deadline=deadline,
    )
    return parsed.summary  # type: ignore[attr-defined, no-any-return]
