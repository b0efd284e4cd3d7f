"""The review queue: the next pending job, its document and fields side by side, and the
form that approves or corrects it (keyboard: a approve, e edit, n next, p previous)."""

from __future__ import annotations

import json
import uuid
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from api.console import views
from api.console.auth import Viewer, ViewerDep, check_csrf
from api.console.owned import owned_job
from api.console.render import page
from api.deps import ReadSessionDep, SessionDep
from api.errors import ApiError
from api.views.jobs import job_out
from api.views.review import result_check
from storage import console_reads, reviews
from storage.corrections import CorrectionError
from storage.errors import StorageError
from storage.models import Job

router = APIRouter(prefix="/console/review", include_in_schema=False)
FIELD = "f:"  # form inputs are named f:<JSON Pointer>


def _next_pending(session: Session, viewer: Viewer, after: uuid.UUID | None) -> Job | None:
    cursor = None
    if after is not None:
        seen = session.get(Job, after)
        cursor = (seen.created_at, seen.id) if seen and seen.tenant_id == viewer.tenant.id else None
    found = reviews.pending_page(session=session, tenant_id=viewer.tenant.id, limit=1, after=cursor)
    return found.rows[0] if found.rows else None


def _render(
    request: Request,
    session: Session,
    viewer: Viewer,
    job: Job | None,
    *,
    error: str = "",
    typed: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    left = reviews.count_pending(session=session, tenant_id=viewer.tenant.id)
    context: dict[str, Any] = {"viewer": viewer, "csrf": viewer.csrf, "left": left, "job": None}
    if job is not None:
        out = job_out(job)
        fields = out.fields or []
        text = console_reads.document_text(session=session, job=job)
        shown = {f.path: shown_value(f.value) for f in fields}
        context.update(
            job=out,
            fields=fields,
            pages=views.pages(text, fields),
            values={**shown, **(typed or {})},
            first=min(range(len(fields)), key=lambda i: fields[i].confidence) if fields else 0,
        )
    return page(request, "review.html", status=status, error=error, **context)


def shown_value(value: Any) -> str:
    """A value as the form shows it: strings as they are, anything else as JSON."""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def typed_value(before: Any, text: str) -> Any:
    """What a person typed, read as the type the field had (ValueError if it cannot be)."""
    if isinstance(before, str):
        return text
    if before is None and text.strip() in ("", "null"):
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        if before is None:
            return text  # an empty field filled with words
        raise ValueError(f"{text!r} is not a {type(before).__name__}") from None


@router.get("", response_class=HTMLResponse)
def review_next(
    request: Request, viewer: ViewerDep, session: ReadSessionDep, after: uuid.UUID | None = None
) -> Response:
    """The oldest job waiting for review (after `after`, to skip one)."""
    return _render(request, session, viewer, _next_pending(session, viewer, after))


@router.get("/{job_id}", response_class=HTMLResponse)
def review_one(
    request: Request, job_id: uuid.UUID, viewer: ViewerDep, session: ReadSessionDep
) -> Response:
    """One job's review page (the queue's previous ones are reached by going back)."""
    job = owned_job(session, viewer, job_id)
    return _render(request, session, viewer, job)


@router.post("/{job_id}", response_class=HTMLResponse)
async def review_submit(
    request: Request, job_id: uuid.UUID, viewer: ViewerDep, session: SessionDep
) -> Response:
    """Approve, or correct the fields whose value changed; a refused correction is shown inline."""
    form = await request.form()
    check_csrf(viewer, str(form.get("csrf") or ""))
    job = owned_job(session, viewer, job_id)
    before = {f["path"]: f["value"] for f in job.evidence or []}
    typed = {k[len(FIELD) :]: str(v) for k, v in form.items() if k.startswith(FIELD)}
    corrections: dict[str, Any] = {}
    try:
        if form.get("action") != "approve":
            for path, text in typed.items():
                if path in before and text != shown_value(before[path]):
                    corrections[path] = typed_value(before[path], text)
        reviews.review(
            session=session,
            tenant_id=viewer.tenant.id,
            job_id=job_id,
            corrections=corrections,
            reviewer=reviews.Reviewer(viewer.signed.key_prefix, viewer.signed.key_id),
            check=result_check(session, list(corrections)),
        )
    except (ValueError, ApiError, StorageError) as exc:  # CorrectionError is a ValueError
        session.rollback()
        message = exc.message if isinstance(exc, (ApiError, CorrectionError)) else str(exc)
        return _render(request, session, viewer, job, error=message, typed=typed, status=422)
    session.commit()  # before the answer: the next page must not show this job again
    return RedirectResponse("/console/review", status_code=303)
