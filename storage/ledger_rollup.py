"""What deleting jobs takes along: ledger rows folded into daily totals, unused documents."""

from __future__ import annotations

import uuid

from sqlalchemy import text
from sqlalchemy.orm import Session

_FOLD = text(
    """
    INSERT INTO usage_days AS u (tenant_id, day, model, tier, lane, calls, input_tokens,
                                 output_tokens, cached_tokens, cost_usd)
    SELECT tenant_id, date(timezone('UTC', created_at)), model, tier, lane, count(*),
           sum(input_tokens), sum(output_tokens), sum(cached_tokens), sum(cost_usd)
    FROM llm_calls WHERE job_id = ANY(:ids)
    GROUP BY 1, 2, 3, 4, 5
    ON CONFLICT (tenant_id, day, model, tier, lane) DO UPDATE SET
        calls = u.calls + EXCLUDED.calls,
        input_tokens = u.input_tokens + EXCLUDED.input_tokens,
        output_tokens = u.output_tokens + EXCLUDED.output_tokens,
        cached_tokens = u.cached_tokens + EXCLUDED.cached_tokens,
        cost_usd = u.cost_usd + EXCLUDED.cost_usd
    """
)


def fold_calls(*, session: Session, job_ids: list[uuid.UUID]) -> None:
    """Add these jobs' ledger rows to `usage_days`; the caller deletes them in the same
    transaction, so each call is counted once, in one place or the other."""
    if job_ids:
        session.execute(_FOLD, {"ids": job_ids})


_LOCK_DOCUMENTS = text(
    "SELECT sha256 FROM documents WHERE sha256 = ANY(:shas) ORDER BY sha256 FOR UPDATE"
)
# Its own statement, so its snapshot sees every job committed while the lock was awaited.
_DELETE_DOCUMENTS = text(
    """
    DELETE FROM documents d WHERE d.sha256 = ANY(:shas)
    AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.document_sha256 = d.sha256)
    """
)


def delete_unused_documents(*, session: Session, shas: list[str]) -> int:
    """Delete those of these documents that no job uses any more; return how many went.

    The rows are locked first, in hash order (the intake's order too, storage/bulk.py): an
    intake reusing one either finished first (its job keeps the document) or waits and
    stores the text anew.
    """
    if not shas:
        return 0
    session.execute(_LOCK_DOCUMENTS, {"shas": sorted(shas)})
    deleted = session.execute(_DELETE_DOCUMENTS, {"shas": shas}).rowcount  # type: ignore[attr-defined]
    return int(deleted)
