"""The batches page, a batch's page, its live fragments, its actions and its downloads."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from sqlalchemy.orm import Session

from api.console import views
from api.console.auth import Viewer, ViewerDep, check_csrf
from api.console.owned import owned_batch
from api.console.render import page
from api.deps import ReadSessionDep, SessionDep, SettingsDep
from api.views.batches import batch_out
from api.views.exports import csv_lines, ndjson_lines
from schemas.batch_api import BatchOut
from storage import batch_pages, console_reads
from storage import batches as batch_store
from storage import webhooks as webhook_store
from storage.models import Batch

router = APIRouter(prefix="/console/batches", include_in_schema=False)
LISTED = 50
JOBS_SHOWN = 100


def _recent(session: Session, viewer: Viewer) -> list[BatchOut]:
    listed = batch_pages.list_batches(session=session, tenant_id=viewer.tenant.id, limit=LISTED)
    sums = batch_store.summarize_many(session=session, batches=listed.batches)
    return [batch_out(b, sums[b.id], None) for b in listed.batches]


def _list_context(session: Session, viewer: Viewer) -> dict[str, Any]:
    now = dt.datetime.now(dt.UTC)
    rows = [(b, views.done(b), views.eta(b, now)) for b in _recent(session, viewer)]
    return {"viewer": viewer, "csrf": viewer.csrf, "rows": rows, "statuses": views.STATUSES}


@router.get("", response_class=HTMLResponse)
def batches_page(
    request: Request, viewer: ViewerDep, session: ReadSessionDep, settings: SettingsDep
) -> Response:
    """Every recent batch with its progress, counts, cost, lane and ETA, updated live."""
    poll_ms = int(settings.app.console.poll_s * 1000)
    return page(request, "batches.html", poll_ms=poll_ms, **_list_context(session, viewer))


@router.get("/rows", response_class=HTMLResponse)
def batches_rows(request: Request, viewer: ViewerDep, session: ReadSessionDep) -> Response:
    """The batches table's body alone: what the page polls."""
    return page(request, "_batch_rows.html", **_list_context(session, viewer))


def _batch_context(session: Session, viewer: Viewer, batch: Batch, status: str) -> dict[str, Any]:
    out = batch_out(batch, batch_store.summarize(session=session, batch=batch), None)
    shown = status if status in views.STATUSES else None
    jobs = console_reads.batch_jobs(
        session=session, batch_id=batch.id, status=shown, limit=JOBS_SHOWN
    )
    return {
        "jobs": jobs,
        "shown": shown or "",
        "viewer": viewer,
        "csrf": viewer.csrf,
        "batch": out,
        "done": views.done(out),
        "eta": views.eta(out, dt.datetime.now(dt.UTC)),
        "statuses": views.STATUSES,
        "review_states": views.REVIEW_STATES,
        "failures": console_reads.failures(session=session, batch_id=batch.id),
    }


@router.get("/{batch_id}", response_class=HTMLResponse)
def batch_page(
    request: Request,
    batch_id: uuid.UUID,
    viewer: ViewerDep,
    session: ReadSessionDep,
    settings: SettingsDep,
    status: str = "",
) -> Response:
    """One batch: counts, review states, failures by type, actions, downloads, its jobs."""
    batch = owned_batch(session, viewer, batch_id)
    return page(
        request,
        "batch.html",
        poll_ms=int(settings.app.console.poll_s * 1000),
        **_batch_context(session, viewer, batch, status),
    )


@router.get("/{batch_id}/live", response_class=HTMLResponse)
def batch_live(
    request: Request,
    batch_id: uuid.UUID,
    viewer: ViewerDep,
    session: ReadSessionDep,
    status: str = "",
) -> Response:
    """The batch's counts, progress, failures and jobs alone: what its page polls."""
    batch = owned_batch(session, viewer, batch_id)
    return page(request, "_batch_live.html", **_batch_context(session, viewer, batch, status))


def _act(viewer: Viewer, session: Session, batch_id: uuid.UUID, csrf: str, action: str) -> Response:
    check_csrf(viewer, csrf)
    batch = owned_batch(session, viewer, batch_id)
    if action == "cancel":
        batch_store.cancel(session=session, batch=batch)
        webhook_store.owe_for_batch(session=session, batch_id=batch.id)  # if nothing ran
    else:
        batch_store.retry(session=session, batch=batch)
    session.commit()  # before the answer: the page that follows must show the change
    return RedirectResponse(f"/console/batches/{batch_id}", status_code=303)


Csrf = Annotated[str, Form(max_length=200)]


@router.post("/{batch_id}/cancel", response_class=RedirectResponse)
def cancel(
    batch_id: uuid.UUID, viewer: ViewerDep, session: SessionDep, csrf: Csrf = ""
) -> Response:
    """Cancel the batch's jobs that have not started, then show the batch again."""
    return _act(viewer, session, batch_id, csrf, "cancel")


@router.post("/{batch_id}/retry", response_class=RedirectResponse)
def retry(batch_id: uuid.UUID, viewer: ViewerDep, session: SessionDep, csrf: Csrf = "") -> Response:
    """Requeue the batch's failed and cancelled jobs, then show the batch again."""
    return _act(viewer, session, batch_id, csrf, "retry")


def _download(session: Session, batch: Batch, kind: str) -> StreamingResponse:
    session.expunge(batch)  # read by the stream after this session is gone
    session.commit()
    name = f"batch-{batch.id}.{kind}"
    body, media = (
        (ndjson_lines(batch), "application/x-ndjson")
        if kind == "ndjson"
        else (csv_lines(batch), "text/csv; charset=utf-8")
    )
    headers = {"Content-Disposition": f'attachment; filename="{name}"'}
    return StreamingResponse(body, media_type=media, headers=headers)


@router.get("/{batch_id}/results.ndjson", response_class=StreamingResponse)
def results_ndjson(batch_id: uuid.UUID, viewer: ViewerDep, session: SessionDep) -> Response:
    """The batch's results as NDJSON, as GET /v1/batches/{id}/results streams them."""
    return _download(session, owned_batch(session, viewer, batch_id), "ndjson")


@router.get("/{batch_id}/results.csv", response_class=StreamingResponse)
def results_csv(batch_id: uuid.UUID, viewer: ViewerDep, session: SessionDep) -> Response:
    """The batch's results as CSV: fixed columns, then one column per result field."""
    return _download(session, owned_batch(session, viewer, batch_id), "csv")
