"""Multi-row INSERT ... ON CONFLICT DO NOTHING for documents and jobs, in bulk."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import text
from sqlalchemy.orm import Session

from storage.documents import text_sha256
from storage.job_rows import insert_jobs

__all__ = ["insert_jobs", "key_owners", "put_documents"]  # insert_jobs: storage/job_rows.py

# Bulk inserts send one array per column through unnest(): the SQL text stays the same
# for any number of rows, so neither SQLAlchemy nor psycopg re-compiles or re-scans a
# 500-row VALUES list per chunk (that cost more than the INSERT itself).
_INSERT_DOCUMENTS = text(
    """
    INSERT INTO documents (sha256, text, chars, tokens, kind)
    SELECT * FROM unnest(CAST(:sha AS text[]), CAST(:text AS text[]), CAST(:chars AS int[]),
                         CAST(:tokens AS int[]), CAST(:kind AS text[]))
    ON CONFLICT (sha256) DO NOTHING
    """
)
# Same shape as _KEY_OWNERS below, for the same reason: `sha256 = ANY(:sha)` prepared
# generic may scan every stored document per chunk.
# FOR KEY SHARE: an erasure deleting one of these documents (storage/erasure.py) waits for
# this transaction's jobs, or has deleted it first and the row is skipped and stored anew.
_KNOWN_DOCUMENTS = text(
    """
    SELECT d.sha256 FROM unnest(CAST(:sha AS text[])) AS k(sha)
    CROSS JOIN LATERAL (SELECT sha256 FROM documents WHERE sha256 = k.sha FOR KEY SHARE) AS d
    """
)
# One unique-index probe per key. The plain `idempotency_key = ANY(:keys)` form goes generic
# after psycopg prepares it (5th run); on a tenant with many jobs that plan scans all of
# them per chunk (profiled: 220 ms against 1.5 ms at 20k jobs), so enqueue slowed as it grew.
_KEY_OWNERS = text(
    """
    SELECT k.key, j.batch_id FROM unnest(CAST(:keys AS text[])) AS k(key)
    CROSS JOIN LATERAL (
        SELECT batch_id FROM jobs
        WHERE tenant_id = :tenant_id AND idempotency_key = k.key
        LIMIT 1
    ) AS j
    """
)


def put_documents(*, session: Session, docs: Sequence[tuple[str, str, int]]) -> list[str]:
    """Store many (text, kind, tokens) once each (bulk `put_document`); return their hashes."""
    digests = [text_sha256(t) for t, _, _ in docs]
    fresh = dict(zip(digests, docs, strict=True))
    if not fresh:
        return digests
    # Skip texts already stored, so a re-sent batch does not ship them to Postgres again.
    known = set(session.scalars(_KNOWN_DOCUMENTS, {"sha": sorted(fresh)}))  # lock order
    new = sorted(d for d in fresh if d not in known)  # one lock order across batches
    if new:
        session.execute(
            _INSERT_DOCUMENTS,
            {
                "sha": new,
                "text": [fresh[d][0] for d in new],
                "chars": [len(fresh[d][0]) for d in new],
                "tokens": [fresh[d][2] for d in new],
                "kind": [fresh[d][1] for d in new],
            },
        )
    return digests


def key_owners(
    *, session: Session, tenant_id: uuid.UUID, keys: Sequence[str]
) -> dict[str, uuid.UUID | None]:
    """The batch of each idempotency key that already has a job (keys without one are absent)."""
    if not keys:
        return {}
    rows = session.execute(_KEY_OWNERS, {"tenant_id": tenant_id, "keys": list(keys)})
    return {str(key): batch_id for key, batch_id in rows}
