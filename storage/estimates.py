"""What an estimate reads from the ledger and the queue: output sizes, re-asks, queue depth."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from storage.models import Document, Job, LlmCall

OK = "ok"
VALIDATION_ERROR = "validation_error"
FINISHED = ("succeeded",)  # a job whose answer was kept: its output sizes are typical
ACTIVE = ("queued", "running")


@dataclass(frozen=True)
class TierOutput:
    """Finished jobs of one tier: the mean output of their successful calls, the cached share."""

    jobs: int
    mean_output_tokens: float | None
    cached_share: float = 0.0  # cached input tokens / input tokens of those calls


@dataclass(frozen=True)
class Reasks:
    """A tenant's calls since a moment: all of them, the failed validations, their jobs."""

    calls: int
    validation_errors: int
    jobs: int


@dataclass(frozen=True)
class Queued:
    """Realtime jobs of one tier queued or running (every tenant), and their documents' tokens."""

    jobs: int
    tokens: int


def output_history(
    *, session: Session, tenant_id: uuid.UUID, schema_name: str, since: dt.datetime
) -> dict[str, TierOutput]:
    """Per tier: the tenant's finished jobs of `schema_name` since `since` and their calls."""
    rows = session.execute(
        select(
            LlmCall.tier,
            func.count(func.distinct(LlmCall.job_id)),
            func.avg(LlmCall.output_tokens),
            func.sum(LlmCall.cached_tokens),
            func.sum(LlmCall.input_tokens),
        )
        .join(Job, Job.id == LlmCall.job_id)
        .where(
            LlmCall.tenant_id == tenant_id,
            LlmCall.outcome == OK,
            LlmCall.created_at >= since,
            Job.tenant_id == tenant_id,
            Job.schema_name == schema_name,
            Job.status.in_(FINISHED),
        )
        .group_by(LlmCall.tier)
    ).all()
    return {
        str(tier): TierOutput(
            int(jobs),
            float(mean) if mean is not None else None,
            int(cached or 0) / int(inputs) if inputs else 0.0,
        )
        for tier, jobs, mean, cached, inputs in rows
    }


def reask_history(*, session: Session, tenant_id: uuid.UUID, since: dt.datetime) -> Reasks:
    """The tenant's calls since `since`: all, those that failed validation, their jobs."""
    calls, failed, jobs = session.execute(
        select(
            func.count(),
            func.count().filter(LlmCall.outcome == VALIDATION_ERROR),
            func.count(func.distinct(LlmCall.job_id)),
        ).where(LlmCall.tenant_id == tenant_id, LlmCall.created_at >= since)
    ).one()
    return Reasks(int(calls), int(failed), int(jobs))


def queue_depth(*, session: Session) -> dict[str, Queued]:
    """Per tier: realtime jobs queued or running, all tenants, with their documents' tokens."""
    rows = session.execute(
        select(Job.tier, func.count(), func.coalesce(func.sum(Document.tokens), 0))
        .outerjoin(Document, Document.sha256 == Job.document_sha256)
        .where(Job.status.in_(ACTIVE), Job.lane == "realtime")
        .group_by(Job.tier)
    ).all()
    return {str(tier): Queued(int(jobs), int(tokens)) for tier, jobs, tokens in rows}


def call_seconds(*, session: Session, since: dt.datetime) -> dict[str, float]:
    """Per model: the mean duration of its successful realtime calls since `since`, all tenants."""
    rows = session.execute(
        select(LlmCall.model, func.avg(LlmCall.latency_ms))
        .where(LlmCall.outcome == OK, LlmCall.lane == "realtime", LlmCall.created_at >= since)
        .group_by(LlmCall.model)
    ).all()
    return {str(model): float(ms) / 1000.0 for model, ms in rows if ms is not None}
