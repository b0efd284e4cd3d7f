"""GET /v1/batches/{id}/results: one NDJSON line per job, streamed in keyset pages."""

from __future__ import annotations

import uuid

from fastapi import APIRouter
from fastapi.responses import StreamingResponse

from api.deps import SessionDep, TenantDep
from api.views.exports import ndjson_lines
from storage import batches as batch_store

router = APIRouter(prefix="/v1/batches", tags=["batches"])


@router.get(
    "/{batch_id}/results",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/x-ndjson": {}}}},
)
def batch_results(batch_id: uuid.UUID, session: SessionDep, tenant: TenantDep) -> StreamingResponse:
    """Stream one NDJSON line per job: id, key, filename, status, result, error, metadata, usage.

    Each line also says where the job stands in review (`review_state`), its lowest field
    `confidence`, `result_version`, and `original_result`: the extraction as first written
    once a review corrected it (`result` is then the corrected, final value), else null.
    """
    batch = batch_store.get_batch(session=session, tenant_id=tenant.id, batch_id=batch_id)
    session.expunge(batch)  # read by the stream after this session is gone
    # FastAPI closes yield dependencies only after the response is sent: end the auth
    # query's transaction now, or a slow reader holds a connection idle in transaction.
    session.commit()
    return StreamingResponse(ndjson_lines(batch), media_type="application/x-ndjson")
