"""Inserting jobs: the row a submission makes (NewJob), one at a time or a batch chunk at once."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from schemas.jobs import JobStatus
from storage.db import notify_jobs
from storage.errors import IdempotencyConflict, InvalidState, NotFound
from storage.models import Job

__all__ = ["NewJob", "create_job", "get_by_id", "insert_jobs"]


@dataclass(frozen=True)
class NewJob:
    """Everything needed to insert one job."""

    tenant_id: uuid.UUID
    schema_name: str
    schema_version: str
    prompt_version: str
    tier: str
    tier_reason: str
    document_sha256: str | None
    filename: str | None = None
    batch_id: uuid.UUID | None = None
    idempotency_key: str | None = None
    request_hash: str | None = None
    reuse: bool = False
    meta: dict[str, Any] | None = None
    webhook_url: str | None = None
    status: JobStatus = JobStatus.QUEUED
    error_type: str | None = None
    error_message: str | None = None
    extractor_version_id: uuid.UUID | None = None
    schema_hash: str | None = None
    prompt_hash: str | None = None
    # {review_threshold, verify, on_mismatch} fixed at submission; a missing key: the TOML's
    trust_policy: dict[str, Any] | None = None
    scanned: bool = False  # its document is a scan: the worker reads it by OCR first
    lane: str = "realtime"  # realtime | batch (tasks/engine/lanes.py chose it)
    lane_reason: str = ""
    deadline: dt.datetime | None = None  # as the submission gave it


def _values(new: NewJob) -> dict[str, Any]:
    finished = dt.datetime.now(dt.UTC) if new.status != JobStatus.QUEUED else None
    return {
        "id": uuid.uuid4(),
        "tenant_id": new.tenant_id,
        "batch_id": new.batch_id,
        "idempotency_key": new.idempotency_key,
        "request_hash": new.request_hash,
        "document_sha256": new.document_sha256,
        "filename": new.filename,
        "schema_name": new.schema_name,
        "schema_version": new.schema_version,
        "prompt_version": new.prompt_version,
        "extractor_version_id": new.extractor_version_id,
        "schema_hash": new.schema_hash,
        "prompt_hash": new.prompt_hash,
        "tier": new.tier,
        "tier_reason": new.tier_reason,
        "lane": new.lane,
        "lane_reason": new.lane_reason,
        "deadline": new.deadline,
        "status": str(new.status),
        "reuse": new.reuse,
        "meta": new.meta or {},
        "webhook_url": new.webhook_url,
        "error_type": new.error_type,
        "error_message": new.error_message,
        "finished_at": finished,
        "attempts": 0,
        "input_tokens": 0,
        "output_tokens": 0,
        "cost_usd": Decimal(0),
        "cache_hit": False,
        "trust_policy": new.trust_policy or {},
        "ocr_pages": [] if new.scanned else None,
    }


def get_by_id(session: Session, job_id: uuid.UUID) -> Job:
    """A job by id, reloaded from the database (no tenant scope: callers checked it)."""
    job = session.get(Job, job_id, populate_existing=True)
    if job is None:
        raise NotFound("job", job_id)
    return job


def create_job(*, session: Session, new: NewJob) -> tuple[Job, bool]:
    """Insert a job; with an idempotency key, return the original instead (created=False).

    The unique constraint makes concurrent duplicates collapse into one row.
    """
    stmt = insert(Job).values(**_values(new))
    if new.idempotency_key is not None:
        stmt = stmt.on_conflict_do_nothing(constraint="uq_jobs_tenant_idempotency")
    job_id = session.execute(stmt.returning(Job.id)).scalar()
    if job_id is not None:
        notify_jobs(session=session)
        return get_by_id(session, job_id), True
    existing = session.scalar(
        select(Job).where(
            Job.tenant_id == new.tenant_id, Job.idempotency_key == new.idempotency_key
        )
    )
    if existing is None:  # pragma: no cover - the conflicting row was deleted mid-flight
        raise InvalidState("idempotent job vanished; retry the request")
    if existing.request_hash != new.request_hash:
        raise IdempotencyConflict(new.idempotency_key or "")
    return existing, False


# One INSERT for many jobs, the trust policy snapshot included: the unnest() shape keeps the
# SQL text one prepared statement for any chunk size (storage/bulk.py says why).
_INSERT_JOBS = text(
    """
    INSERT INTO jobs (id, tenant_id, batch_id, idempotency_key, document_sha256, filename,
        schema_name, schema_version, prompt_version, extractor_version_id, schema_hash,
        prompt_hash, tier, tier_reason, lane, lane_reason, deadline, status, reuse,
        metadata, error_type, error_message, finished_at, attempts, input_tokens,
        output_tokens, cost_usd, cache_hit, trust_policy, ocr_pages)
    SELECT u.id, :tenant_id, CAST(:batch_id AS uuid), u.key, u.sha, u.filename, :schema_name,
        :schema_version, :prompt_version, CAST(:extractor_version_id AS uuid), :schema_hash,
        :prompt_hash, u.tier, u.reason, u.lane, u.lane_reason, u.deadline, u.status, :reuse,
        u.meta,
        u.error_type, u.error_message, CASE WHEN u.status = 'queued' THEN NULL ELSE now() END,
        0, 0, 0, 0, false, CAST(:trust_policy AS jsonb),
        CASE WHEN u.scanned THEN CAST('[]' AS jsonb) END
    FROM unnest(CAST(:id AS uuid[]), CAST(:key AS text[]), CAST(:sha AS text[]),
                CAST(:filename AS text[]), CAST(:tier AS text[]), CAST(:reason AS text[]),
                CAST(:status AS text[]), CAST(:meta AS jsonb[]), CAST(:error_type AS text[]),
                CAST(:error_message AS text[]), CAST(:scanned AS boolean[]),
                CAST(:lane AS text[]), CAST(:lane_reason AS text[]),
                CAST(:deadline AS timestamptz[]))
        AS u(id, key, sha, filename, tier, reason, status, meta, error_type, error_message,
             scanned, lane, lane_reason, deadline)
    ON CONFLICT ON CONSTRAINT uq_jobs_tenant_idempotency DO NOTHING
    RETURNING id
    """
)


def insert_jobs(*, session: Session, rows: list[NewJob], batch_id: uuid.UUID | None = None) -> int:
    """Insert jobs (of one batch, or of none) in one statement, skipping taken keys.

    The rows share tenant, schema, versions, `reuse` and the trust policy; the first row
    supplies them. Returns how many were inserted, and wakes the scheduler if any were.
    """
    if not rows:
        return 0
    first = rows[0]
    params: dict[str, Any] = {
        "tenant_id": first.tenant_id,
        "batch_id": batch_id,
        "schema_name": first.schema_name,
        "schema_version": first.schema_version,
        "prompt_version": first.prompt_version,
        "extractor_version_id": first.extractor_version_id,
        "schema_hash": first.schema_hash,
        "prompt_hash": first.prompt_hash,
        "reuse": first.reuse,
        "trust_policy": json.dumps(first.trust_policy or {}),
        "id": [uuid.uuid4() for _ in rows],
        "key": [r.idempotency_key for r in rows],
        "sha": [r.document_sha256 for r in rows],
        "filename": [r.filename for r in rows],
        "tier": [r.tier for r in rows],
        "reason": [r.tier_reason for r in rows],
        "status": [str(r.status) for r in rows],
        "meta": [json.dumps(r.meta or {}) for r in rows],
        "scanned": [r.scanned for r in rows],
        "lane": [r.lane for r in rows],
        "lane_reason": [r.lane_reason for r in rows],
        "deadline": [r.deadline for r in rows],
        "error_type": [r.error_type for r in rows],
        "error_message": [r.error_message for r in rows],
    }
    created = len(session.execute(_INSERT_JOBS, params).all())
    if created:
        notify_jobs(session=session)
    return created
