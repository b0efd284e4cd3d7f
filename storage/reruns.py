"""Rerun a batch: a new batch over the same stored documents, with another extractor version."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import CursorResult, text, update
from sqlalchemy.orm import Session

from storage.db import notify_jobs
from storage.models import Batch


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


# One statement copies every job of the source batch, in its order. Documents are stored
# once by content hash, so nothing is uploaded again. A job that failed at submission (no
# stored document) is carried over failed with its reason: no input disappears.
_COPY = text(
    """
    INSERT INTO jobs (id, tenant_id, batch_id, document_sha256, filename, schema_name,
        schema_version, prompt_version, extractor_version_id, schema_hash, prompt_hash, tier,
        tier_reason, status, reuse, metadata, error_type, error_message, finished_at,
        attempts, input_tokens, output_tokens, cost_usd, cache_hit, created_at)
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
        -- keep the source's order: keyset pages of the new batch follow the same inputs
        now() + (row_number() OVER (ORDER BY j.created_at, j.id)) * interval '1 microsecond'
    FROM jobs AS j
    WHERE j.batch_id = :old_batch AND j.tenant_id = :tenant_id
    """
)


def rerun_batch(*, session: Session, source: Batch, spec: RerunSpec, ref: str, tier: str) -> Batch:
    """Open the new batch and copy the source's documents into it as queued jobs."""
    batch = Batch(
        id=uuid.uuid4(),
        tenant_id=source.tenant_id,
        schema_name=ref,
        tier=tier,
        total=0,
        webhook_url=source.webhook_url,
        meta={"rerun_of": str(source.id)},
    )
    session.add(batch)
    session.flush()
    result: CursorResult[Any] = session.execute(  # type: ignore[assignment]
        _COPY,
        {
            "new_batch": batch.id,
            "old_batch": source.id,
            "tenant_id": source.tenant_id,
            "schema_name": spec.schema_name,
            "schema_version": spec.schema_version,
            "prompt_version": spec.prompt_version,
            "version_id": spec.extractor_version_id,
            "schema_hash": spec.schema_hash,
            "prompt_hash": spec.prompt_hash,
            "tier": spec.tier,
        },
    )
    copied = result.rowcount
    session.execute(update(Batch).where(Batch.id == batch.id).values(total=copied))
    session.refresh(batch)
    if copied:
        notify_jobs(session=session)
    return batch
