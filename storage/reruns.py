"""Rerun a batch: a new batch over the same stored documents, with another extractor version."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import CursorResult, select, text, tuple_, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from storage.db import notify_jobs
from storage.models import Batch, Job

# Jobs copied per statement: a million-job batch must not be one statement past the
# statement timeout, nor one lock-holding transaction per row.
PAGE = 5000
_RERUN_NAMESPACE = uuid.UUID("b8a3f6f2-0d0e-4c8e-9d54-1c2f3e4a5b6c")


@dataclass(frozen=True)
class RerunSpec:
    """The extractor version the new jobs run, as each job records it."""

    schema_name: str
    schema_version: str
    prompt_version: str
    extractor_version_id: uuid.UUID | None
    schema_hash: str
    prompt_hash: str
    tier: str | None  # None keeps each job's own tier


# Documents are stored once by content hash, so nothing is uploaded again. A job that
# failed at submission (no stored document) is carried over failed with its reason: no
# input disappears. created_at steps by a microsecond so the new batch keeps input order.
_COPY = text(
    """
    INSERT INTO jobs (id, tenant_id, batch_id, document_sha256, filename, schema_name,
        schema_version, prompt_version, extractor_version_id, schema_hash, prompt_hash, tier,
        tier_reason, status, reuse, metadata, error_type, error_message, finished_at,
        attempts, input_tokens, output_tokens, cost_usd, cache_hit, created_at, trust_policy,
        ocr_pages)
    SELECT gen_random_uuid(), j.tenant_id, :new_batch, j.document_sha256, j.filename,
        :schema_name, :schema_version, :prompt_version, CAST(:version_id AS uuid),
        :schema_hash, :prompt_hash, COALESCE(:tier, j.tier),
        'rerun of ' || CAST(j.id AS text),
        CASE WHEN j.document_sha256 IS NULL THEN 'failed' ELSE 'queued' END,
        false, j.metadata,
        CASE WHEN j.document_sha256 IS NULL THEN j.error_type END,
        CASE WHEN j.document_sha256 IS NULL THEN j.error_message END,
        CASE WHEN j.document_sha256 IS NULL THEN now() END,
        0, 0, 0, 0, false,
        now() + (:base + row_number() OVER (ORDER BY j.created_at, j.id))
            * interval '1 microsecond',
        j.trust_policy,
        CASE WHEN jsonb_typeof(j.ocr_pages) = 'array' THEN CAST('[]' AS jsonb) END
    FROM jobs AS j
    WHERE j.id = ANY(CAST(:ids AS uuid[]))
    """
)


def rerun_batch(
    *, session: Session, source: Batch, spec: RerunSpec, ref: str, tier: str, key: str | None
) -> tuple[Batch, bool]:
    """Open the new batch and copy the source's documents into it as jobs (created, or not).

    With an idempotency `key` a replay returns the batch the first request made.
    """
    tenant_id = source.tenant_id
    batch_id = (
        uuid.uuid5(_RERUN_NAMESPACE, f"{tenant_id}:{key}") if key is not None else uuid.uuid4()
    )
    opened = session.scalar(
        insert(Batch)
        .values(
            id=batch_id,
            tenant_id=tenant_id,
            schema_name=ref,
            tier=tier,
            total=0,
            webhook_url=source.webhook_url,
            meta={"rerun_of": str(source.id)} | ({"idempotency_key": key} if key else {}),
        )
        .on_conflict_do_nothing(index_elements=["id"])
        .returning(Batch.id)
    )
    if opened is None:
        return _existing(session, batch_id, tenant_id), False
    copied = 0
    after: tuple[dt.datetime, uuid.UUID] | None = None
    while True:
        page = _page(session, source, after)
        if not page:
            break
        copied += _copy(session, batch_id, spec, [row.id for row in page], copied)
        after = (page[-1].created_at, page[-1].id)
    session.execute(update(Batch).where(Batch.id == batch_id).values(total=copied))
    if copied:
        notify_jobs(session=session)
    return _existing(session, batch_id, tenant_id), True


def _page(session: Session, source: Batch, after: tuple[dt.datetime, uuid.UUID] | None) -> Any:
    query = select(Job.id, Job.created_at).where(
        Job.batch_id == source.id, Job.tenant_id == source.tenant_id
    )
    if after is not None:
        query = query.where(tuple_(Job.created_at, Job.id) > tuple_(*after))
    return session.execute(query.order_by(Job.created_at, Job.id).limit(PAGE)).all()


def _copy(
    session: Session, batch_id: uuid.UUID, spec: RerunSpec, ids: list[uuid.UUID], base: int
) -> int:
    result: CursorResult[Any] = session.execute(  # type: ignore[assignment]
        _COPY,
        {
            "new_batch": batch_id,
            "ids": ids,
            "base": base,
            "schema_name": spec.schema_name,
            "schema_version": spec.schema_version,
            "prompt_version": spec.prompt_version,
            "version_id": spec.extractor_version_id,
            "schema_hash": spec.schema_hash,
            "prompt_hash": spec.prompt_hash,
            "tier": spec.tier,
        },
    )
    return result.rowcount


def _existing(session: Session, batch_id: uuid.UUID, tenant_id: uuid.UUID) -> Batch:
    batch = session.get(Batch, batch_id, populate_existing=True)
    if batch is None or batch.tenant_id != tenant_id:  # pragma: no cover - deleted mid-flight
        raise LookupError(f"batch {batch_id} vanished")
    return batch
