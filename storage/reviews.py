"""Review verbs: the pending queue, a review (approve or correct) with its audit row, labels."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, func, select, update
from sqlalchemy.orm import Session

from schemas.jobs import JobStatus
from schemas.trust.fields import ReviewState
from storage.corrections import apply, lowest, reviewed_evidence, settle
from storage.errors import InvalidState, NotFound
from storage.job_rows import get_by_id
from storage.models import ApiKey, Job
from storage.rows import KEYSET_ORDER, Cursor, jobs_after
from storage.tenants import hash_key
from storage.trust_models import JobReview

LABELLED = (ReviewState.APPROVED, ReviewState.CORRECTED)
# Validates a job's corrected result against its extractor and returns it as stored
# (coerced, extra keys dropped); raises to refuse it. The API supplies it (storage knows
# no extractor models).
Check = Callable[[Job, dict[str, Any]], dict[str, Any]]


@dataclass(frozen=True)
class Page:
    """Up to `limit` rows, and the cursor of the next page (None on the last one)."""

    rows: Sequence[Any]
    next_cursor: Cursor | None


@dataclass(frozen=True)
class Reviewer:
    """Who reviews: the API key's prefix and id."""

    name: str
    api_key_id: uuid.UUID | None


def reviewer_of(*, session: Session, api_key: str) -> Reviewer:
    """The reviewer an (already authenticated) API key stands for."""
    key = session.scalar(select(ApiKey).where(ApiKey.key_hash == hash_key(api_key)))
    if key is None:  # pragma: no cover - the key authenticated this very request
        return Reviewer("unknown", None)
    return Reviewer(key.prefix, key.id)


def _pending(tenant_id: uuid.UUID, batch_id: uuid.UUID | None, extractor: str | None) -> Any:
    # tenant_id and the literal state match ix_jobs_review_pending's predicate and order
    where: list[ColumnElement[bool]] = [
        Job.tenant_id == tenant_id,
        Job.review_state == ReviewState.PENDING.value,
    ]
    if batch_id is not None:
        where.append(Job.batch_id == batch_id)
    if extractor is not None:
        where.append(Job.schema_name == extractor)
    return where


def pending_page(
    *,
    session: Session,
    tenant_id: uuid.UUID,
    limit: int,
    batch_id: uuid.UUID | None = None,
    extractor: str | None = None,
    after: Cursor | None = None,
) -> Page:
    """The tenant's jobs waiting for review (of a batch, of an extractor), oldest first."""
    stmt = select(Job).where(*_pending(tenant_id, batch_id, extractor))
    if after is not None:
        stmt = stmt.where(jobs_after(after))
    rows = session.scalars(stmt.order_by(*KEYSET_ORDER).limit(limit + 1)).all()
    return _page(rows, limit, lambda j: (j.created_at, j.id))


def count_pending(
    *,
    session: Session,
    tenant_id: uuid.UUID,
    batch_id: uuid.UUID | None = None,
    extractor: str | None = None,
) -> int:
    """How many of the tenant's jobs wait for review (of a batch, of an extractor)."""
    stmt = select(func.count()).select_from(Job).where(*_pending(tenant_id, batch_id, extractor))
    return int(session.scalar(stmt) or 0)


def _page(rows: Sequence[Any], limit: int, cursor: Callable[[Any], Cursor]) -> Page:
    page = rows[:limit]
    last = page[-1] if len(rows) > limit and page else None
    return Page(page, cursor(last) if last is not None else None)


def lock_job(*, session: Session, tenant_id: uuid.UUID, job_id: uuid.UUID) -> Job:
    """The tenant's job, its row locked until the transaction ends (another's: NotFound)."""
    job = session.scalars(
        select(Job)
        .where(Job.id == job_id, Job.tenant_id == tenant_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one_or_none()
    if job is None:
        raise NotFound("job", job_id)
    return job


def review(
    *,
    session: Session,
    tenant_id: uuid.UUID,
    job_id: uuid.UUID,
    corrections: Mapping[str, Any],
    reviewer: Reviewer,
    check: Check,
) -> Job:
    """Approve (no corrections) or correct a succeeded job's result, with an audit row.

    One transaction, the job row locked (SELECT ... FOR UPDATE) so concurrent reviews
    apply one after the other, each to the result the previous one wrote. The first
    correction keeps the extraction in `original_result`; every review bumps
    `result_version`. Raises CorrectionError for a bad pointer or a refused result.
    """
    job = lock_job(session=session, tenant_id=tenant_id, job_id=job_id)
    if job.status != JobStatus.SUCCEEDED or job.result is None:
        raise InvalidState(f"job {job_id} is {job.status}; only succeeded jobs are reviewed")
    before: dict[str, Any] = job.result
    version = (job.result_version or 1) + 1
    values: dict[str, Any] = {"result_version": version}
    if corrections:
        corrected, changes = apply(before, corrections)
        final = check(job, corrected)
        changes = settle(final, changes)
        evidence = reviewed_evidence(job.evidence or [], final, list(changes))
        action = state = ReviewState.CORRECTED
        values |= {
            "result": final,
            "original_result": func.coalesce(Job.original_result, Job.result),
            "evidence": evidence,
            "confidence": lowest(evidence) if evidence else job.confidence,
        }
    else:
        final, changes, action = before, {}, ReviewState.APPROVED
        # A result a review corrected stays `corrected` when approved later: it is still
        # not what the extraction said (original_result keeps that).
        corrected_before = job.original_result is not None
        state = ReviewState.CORRECTED if corrected_before else ReviewState.APPROVED
    values["review_state"] = state.value
    session.execute(
        update(Job)
        .where(Job.id == job.id)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    session.add(
        JobReview(
            job_id=job.id,
            tenant_id=tenant_id,
            api_key_id=reviewer.api_key_id,
            reviewer=reviewer.name,
            action=action.value,
            version=version,
            corrections=changes,
            before=before,
            after=final,
        )
    )
    session.flush()
    return get_by_id(session, job.id)


def list_reviews(*, session: Session, tenant_id: uuid.UUID, job_id: uuid.UUID) -> list[JobReview]:
    """A tenant's job's reviews, oldest first; another tenant's job is NotFound."""
    owner = session.scalar(select(Job.tenant_id).where(Job.id == job_id))
    if owner != tenant_id:
        raise NotFound("job", job_id)
    return list(
        session.scalars(select(JobReview).where(JobReview.job_id == job_id).order_by(JobReview.id))
    )


@dataclass(frozen=True, slots=True)
class Label:
    """A reviewed job's final result: one line of an eval set."""

    id: uuid.UUID
    batch_id: uuid.UUID | None
    idempotency_key: str | None
    filename: str | None
    schema_name: str
    schema_version: str
    extractor_version_id: uuid.UUID | None
    review_state: str
    result: dict[str, Any] | None
    original_result: dict[str, Any] | None
    result_version: int
    reviewed_at: dt.datetime | None
    created_at: dt.datetime


def labels_page(
    *,
    session: Session,
    tenant_id: uuid.UUID,
    extractor: str,
    limit: int,
    after: Cursor | None = None,
) -> Page:
    """The tenant's reviewed (approved or corrected) jobs of one extractor, oldest first."""
    reviewed_at = (
        select(func.max(JobReview.created_at))
        .where(JobReview.job_id == Job.id)  # ix_job_reviews_job
        .scalar_subquery()
    )
    stmt = select(
        Job.id,
        Job.batch_id,
        Job.idempotency_key,
        Job.filename,
        Job.schema_name,
        Job.schema_version,
        Job.extractor_version_id,
        Job.review_state,
        Job.result,
        Job.original_result,
        Job.result_version,
        reviewed_at,
        Job.created_at,
    ).where(
        Job.tenant_id == tenant_id,
        Job.schema_name == extractor,
        Job.review_state.in_([s.value for s in LABELLED]),
    )
    if after is not None:
        stmt = stmt.where(jobs_after(after))
    rows = [Label(*row) for row in session.execute(stmt.order_by(*KEYSET_ORDER).limit(limit + 1))]
    return _page(rows, limit, lambda r: (r.created_at, r.id))
