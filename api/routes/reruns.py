"""POST /v1/batches/{id}/rerun: the same stored documents through another extractor version."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Header, Response

from api.deps import SessionDep, TenantDep
from api.views.batches import batch_out
from schemas.batch_api import BatchOut
from schemas.extractor_api import RerunRequest
from storage import batches as batch_store
from storage import webhooks as webhook_store
from storage.reruns import RerunSpec, rerun_batch
from tasks.extractors.registry import resolve

router = APIRouter(prefix="/v1/batches", tags=["batches"])


@router.post(
    "/{batch_id}/rerun", status_code=201, response_model=BatchOut, response_model_by_alias=True
)
def rerun(
    batch_id: uuid.UUID,
    body: RerunRequest,
    response: Response,
    session: SessionDep,
    tenant: TenantDep,
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> BatchOut:
    """A new batch over the same documents (no re-upload); diff the two to see what changed.

    The same Idempotency-Key returns the batch the first request made (200).
    """
    source = batch_store.get_batch(session=session, tenant_id=tenant.id, batch_id=batch_id)
    spec = resolve(session=session, tenant_id=tenant.id, ref=body.schema_name)
    batch, created = rerun_batch(
        session=session,
        source=source,
        spec=RerunSpec(
            schema_name=spec.name,
            schema_version=str(spec.version),
            prompt_version=spec.prompt.version,
            extractor_version_id=uuid.UUID(spec.version_id) if spec.version_id else None,
            schema_hash=spec.schema_hash,
            prompt_hash=spec.prompt_hash,
            tier=body.tier if body.tier not in (None, "auto") else None,
        ),
        ref=spec.ref,
        tier=body.tier or source.tier,
        key=idempotency_key,
    )
    if created:
        # A rerun of only carried-over failures (or of nothing) is finished already.
        webhook_store.owe_for_batch(session=session, batch_id=batch.id)
    else:
        response.status_code = 200
    return batch_out(batch, batch_store.summarize(session=session, batch=batch))
