"""Human review: the pending queue, a review of one job, its audit trail, reviewed labels."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request

from api.deps import ReadSessionDep, ReadTenantDep, SessionDep, TenantDep
from api.errors import ApiError
from api.paging import decode_cursor, encode_cursor
from api.views.jobs import job_out
from api.views.review import label_item, result_check, review_item, review_out
from schemas.api import JobOut
from schemas.extractor_api import NAME_PATTERN
from schemas.trust.review_api import LabelPage, ReviewList, ReviewPage, ReviewRequest
from storage import reviews
from storage.corrections import CorrectionError

router = APIRouter(tags=["review"])

CursorParam = Annotated[str | None, Query(max_length=200)]


@router.get("/v1/review", response_model=ReviewPage)
def review_queue(
    session: ReadSessionDep,
    tenant: ReadTenantDep,
    batch_id: uuid.UUID | None = None,
    extractor: Annotated[str | None, Query(pattern=NAME_PATTERN)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: CursorParam = None,
) -> ReviewPage:
    """The tenant's jobs waiting for review, oldest first, keyset-paged on (created_at, id).

    Each item has the result, each field's evidence and confidence, and the document-fit
    verdict. `pending` counts every job waiting under the same filters.
    """
    page = reviews.pending_page(
        session=session,
        tenant_id=tenant.id,
        limit=limit,
        batch_id=batch_id,
        extractor=extractor,
        after=decode_cursor(cursor) if cursor else None,
    )
    pending = reviews.count_pending(
        session=session, tenant_id=tenant.id, batch_id=batch_id, extractor=extractor
    )
    return ReviewPage(
        items=[review_item(job) for job in page.rows],
        next_cursor=encode_cursor(page.next_cursor) if page.next_cursor else None,
        pending=pending,
    )


@router.get("/v1/review/labels", response_model=LabelPage)
def review_labels(
    session: ReadSessionDep,
    tenant: ReadTenantDep,
    extractor: Annotated[str, Query(pattern=NAME_PATTERN)],
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: CursorParam = None,
) -> LabelPage:
    """The tenant's reviewed (approved or corrected) jobs of one extractor, oldest first.

    `result` is the final, reviewed value: an eval set's expected answer.
    """
    page = reviews.labels_page(
        session=session,
        tenant_id=tenant.id,
        extractor=extractor,
        limit=limit,
        after=decode_cursor(cursor) if cursor else None,
    )
    return LabelPage(
        items=[label_item(row) for row in page.rows],
        next_cursor=encode_cursor(page.next_cursor) if page.next_cursor else None,
    )


@router.post("/v1/jobs/{job_id}/review", response_model=JobOut, response_model_by_alias=True)
def review_job(
    job_id: uuid.UUID,
    body: ReviewRequest,
    request: Request,
    session: SessionDep,
    tenant: TenantDep,
) -> JobOut:
    """Approve a succeeded job's result, or correct fields of it by JSON Pointer.

    The corrected result must pass the job's own extractor version (field and cross-field
    checks): else 422 `correction_invalid` naming the pointers. A pointer that names no
    existing leaf, list item or key of an existing object is 422 `invalid_pointer`. Each
    review writes a new `result_version` and an audit row (GET /v1/jobs/{id}/reviews);
    the first correction keeps the extraction in `original_result`.
    """
    # The tenant dependency checked this header; the reviewer is the key's prefix.
    api_key = request.headers.get("authorization", "").partition(" ")[2].strip()
    reviewer = reviews.reviewer_of(session=session, api_key=api_key)
    try:
        job = reviews.review(
            session=session,
            tenant_id=tenant.id,
            job_id=job_id,
            corrections=body.corrections,
            reviewer=reviewer,
            check=result_check(session, list(body.corrections)),
        )
    except CorrectionError as exc:
        raise ApiError(422, exc.type, exc.message) from None
    return job_out(job)


@router.get("/v1/jobs/{job_id}/reviews", response_model=ReviewList)
def job_reviews(job_id: uuid.UUID, session: ReadSessionDep, tenant: ReadTenantDep) -> ReviewList:
    """The job's reviews, oldest first: who, when, each correction's before and after."""
    rows = reviews.list_reviews(session=session, tenant_id=tenant.id, job_id=job_id)
    return ReviewList(data=[review_out(row) for row in rows])
