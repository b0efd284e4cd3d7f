"""A job's page: its document with the evidence marked, its fields, calls and timeline."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from api.console import views
from api.console.auth import ViewerDep
from api.console.owned import owned_job
from api.console.render import page
from api.deps import ReadSessionDep
from api.views.jobs import job_out
from storage import console_reads, reviews

router = APIRouter(prefix="/console/jobs", include_in_schema=False)


@router.get("/{job_id}", response_class=HTMLResponse)
def job_detail(
    request: Request, job_id: uuid.UUID, viewer: ViewerDep, session: ReadSessionDep
) -> Response:
    """The document page by page, the fields by confidence, each linked to its evidence."""
    job = owned_job(session, viewer, job_id)  # another tenant's job is a 404 page
    out = job_out(job)
    calls = console_reads.job_calls(session=session, job_id=job.id)
    history = reviews.list_reviews(session=session, tenant_id=viewer.tenant.id, job_id=job.id)
    fields = out.fields or []
    text = console_reads.document_text(session=session, job=job)
    return page(
        request,
        "job.html",
        viewer=viewer,
        csrf=viewer.csrf,
        job=out,
        fields=fields,
        pages=views.pages(text, fields),
        calls=calls,
        events=views.timeline(out, calls, history),
    )
