"""GET /v1/batches/{id}/diff?against={other}: what changed between two runs of the same documents.

A rerun makes a new batch over the same stored documents with another extractor version;
this diff pairs the two batches' jobs by document and reports, per field, what changed.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

import structlog
from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse, StreamingResponse
from sqlalchemy.exc import SQLAlchemyError

from api.deps import ReadSessionDep, ReadTenantDep
from api.errors import ApiError
from api.views.diff_walk import DiffWalk, first_page

router = APIRouter(prefix="/v1/batches", tags=["batches"])
log = structlog.get_logger(__name__)

Format = Literal["ndjson", "summary"]


@router.get(
    "/{batch_id}/diff",
    response_model=None,
    responses={200: {"content": {"application/x-ndjson": {}, "application/json": {}}}},
)
def batch_diff(
    batch_id: uuid.UUID,
    against: uuid.UUID,
    session: ReadSessionDep,
    tenant: ReadTenantDep,
    format_: Annotated[Format, Query(alias="format")] = "ndjson",
) -> StreamingResponse | JSONResponse:
    """What changed from batch `against` to this one, per document and per field.

    Jobs are paired by document (sha256), a document sent several times by occurrence
    order. NDJSON (default): a `document` line per pair with changes (`before` is the
    `against` batch's value, `after` this batch's; `added` means only this batch's result
    has the field) or with a job that has not succeeded (its `status`, `against_status`);
    an `unmatched` line per document in one batch only; a final `summary` line.
    `format=summary` answers with the summary alone.
    """
    if against == batch_id:
        raise ApiError(422, "invalid_request", "against: name another batch than this one")
    first = first_page(session, tenant_id=tenant.id, batch_id=batch_id, against=against)
    diff = DiffWalk(tenant_id=tenant.id, batch_id=batch_id, against=against, first=first)
    session.commit()  # the pages use their own sessions: hold no connection while streaming
    if format_ == "ndjson":
        return StreamingResponse(diff.stream(), media_type="application/x-ndjson")
    try:
        for _ in diff.pages():
            pass
    except SQLAlchemyError as exc:
        log.error("batch_diff_failed", error_class=type(exc).__name__)  # noqa: TRY400
        raise ApiError(503, "unavailable", "the database stopped answering; try again") from exc
    return JSONResponse(diff.summary_line())
