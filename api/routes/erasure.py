"""DELETE /v1/batches/{id}: erase a batch's documents and results (right to erasure)."""

from __future__ import annotations

import uuid

from fastapi import APIRouter

from api.deps import ReadTenantDep, SessionDep, TenantDep
from schemas.erasure_api import ErasureOut
from storage import batches as batch_store
from storage import erasure as erasure_store
from storage.errors import NotFound
from storage.retention_models import Erasure

router = APIRouter(prefix="/v1/batches", tags=["batches"])


def _out(erasure: Erasure) -> ErasureOut:
    return ErasureOut(
        batch_id=erasure.batch_id,
        state="completed" if erasure.completed_at else "pending",
        requested_at=erasure.requested_at,
        completed_at=erasure.completed_at,
        jobs_deleted=erasure.jobs_deleted,
        documents_deleted=erasure.documents_deleted,
        documents_kept=erasure.documents_kept,
    )


@router.delete("/{batch_id}", status_code=202, response_model=ErasureOut)
def erase_batch(batch_id: uuid.UUID, session: SessionDep, tenant: TenantDep) -> ErasureOut:
    """Erase the batch: its jobs, results, reviews, ledger detail and the documents only it
    uses. Unstarted jobs are cancelled at once and running ones finish first; the batch then
    answers 410. Spend totals stay. Asking again reports progress (`GET .../erasure`)."""
    found = erasure_store.find_erasure(session=session, batch_id=batch_id)
    if found is None or found.tenant_id != tenant.id:
        batch = batch_store.get_batch(session=session, tenant_id=tenant.id, batch_id=batch_id)
        found = erasure_store.request_erasure(session=session, batch=batch)
    out = _out(found)
    session.commit()  # before the answer: the next request must already see the 410
    return out


@router.get("/{batch_id}/erasure", response_model=ErasureOut)
def read_erasure(batch_id: uuid.UUID, session: SessionDep, tenant: ReadTenantDep) -> ErasureOut:
    """How far the batch's erasure got (404 when none was asked)."""
    found = erasure_store.find_erasure(session=session, batch_id=batch_id)
    if found is None or found.tenant_id != tenant.id:
        raise NotFound("erasure of batch", batch_id)
    return _out(found)
