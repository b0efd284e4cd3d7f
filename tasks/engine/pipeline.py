"""The extraction engine: chunk, call the model chain per chunk, merge.

Pure orchestration: every outside service arrives through `Engine`'s ports, so tests can
drive it directly and the Celery task stays a thin edge.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ValidationError

from schemas.config import Tier
from schemas.extraction.partial import partial_model
from schemas.extractors.spec import ExtractorSpec
from tasks.documents.chunking import split_document
from tasks.documents.errors import DocumentInvalid
from tasks.engine.chain import brief, call_chain
from tasks.engine.merge import merge_partials, reduce_prompt
from tasks.engine.models import Billed, Engine, Outcome
from tasks.errors import ValidationFailed

__all__ = ["Billed", "Engine", "Outcome", "call_chain", "partial_model", "run"]


def run(
    *, engine: Engine, spec: ExtractorSpec, text: str, filename: str | None, tier: Tier
) -> Outcome:
    """Extract `text` into `spec`'s schema on `tier`, chunking and merging when needed."""
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
    deadline = engine.clock() + engine.config.retry.max_wall_s * max(1, len(chunks))
    partials: list[dict[str, Any]] = []
    model_used = ""
    # A chunk holds part of the document: whole-document checks (totals, required fields)
    # only apply to the merged result, so each chunk is extracted into a relaxed model.
    chunk_model = spec.model if len(chunks) == 1 else spec.chunk_model
    for index, chunk in enumerate(chunks):
        messages = spec.prompt.render(
            text=chunk,
            filename=filename,
            chunk_index=index if len(chunks) > 1 else None,
            chunk_count=len(chunks) if len(chunks) > 1 else None,
        )
        parsed, model_used = call_chain(
            engine=engine,
            tier=tier,
            messages=messages,
            response_model=chunk_model,
            chunk=index if len(chunks) > 1 else None,
            deadline=deadline,
        )
        partials.append(parsed.model_dump(mode="json"))
    if len(partials) == 1:
        return Outcome(partials[0], model_used, 1)
    merged = merge_partials(
        partials=partials,
        list_fields=list(spec.merge.list_fields),
        summary_fields=list(spec.merge.summary_fields),
    )
    result = dict(merged.merged)
    for name in merged.needs_reduce:
        values = [str(p[name]) for p in partials if p.get(name)]
        result[name] = _reduce(engine, tier, name, values, deadline)
    try:
        final = spec.model.model_validate(result)
    except ValidationError as exc:
        raise ValidationFailed(f"merged chunks failed validation: {brief(exc)}") from exc
    return Outcome(final.model_dump(mode="json"), model_used, len(chunks))


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
