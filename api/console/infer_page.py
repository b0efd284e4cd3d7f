"""Infer an extractor from samples: upload or paste them, watch the inference job, then
register the proposed schema with the extractors page's own form."""

from __future__ import annotations

import base64
import json
import re
import uuid
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from starlette.datastructures import UploadFile

from api.console.auth import Viewer, ViewerDep, check_csrf
from api.console.owned import owned_job
from api.console.render import page
from api.deps import ReadSessionDep, SessionDep, SettingsDep
from api.errors import ApiError
from api.views.batches import validation_reason
from api.views.inference import inference_out, start_inference
from schemas.api import DocumentSource
from schemas.config import Settings
from schemas.extractor_api import InferRequest
from schemas.jobs import TERMINAL
from storage.models import Job

router = APIRouter(prefix="/console/extractors/infer", include_in_schema=False)
SEPARATOR = re.compile(r"^-{3,}\s*$", re.MULTILINE)  # a line of dashes between pasted samples


async def samples_of(form: Any, max_bytes: int) -> list[DocumentSource]:
    """The uploaded files, then the pasted samples (split at lines of three dashes)."""
    samples = []
    for upload in form.getlist("files"):
        if isinstance(upload, UploadFile) and upload.filename:
            raw = await upload.read(max_bytes + 1)
            if len(raw) > max_bytes:
                raise ValueError(f"{upload.filename}: over {max_bytes} bytes")
            encoded = base64.b64encode(raw).decode()
            samples.append(DocumentSource(content_base64=encoded, filename=upload.filename))
    pasted = str(form.get("samples") or "")
    samples += [DocumentSource(text=t.strip()) for t in SEPARATOR.split(pasted) if t.strip()]
    return samples


@router.post("", response_class=HTMLResponse)
async def infer_start(
    request: Request, viewer: ViewerDep, session: SessionDep, settings: SettingsDep
) -> Response:
    """Start an inference job from the samples, then show its page."""
    form = await request.form()
    check_csrf(viewer, str(form.get("csrf") or ""))
    try:
        samples = await samples_of(form, settings.app.limits.max_document_bytes)
        body = InferRequest(samples=samples, hint=str(form.get("hint") or "") or None)
        job_id = await start_inference(session, viewer.tenant.id, body, settings)
    except ApiError as exc:
        return _refused(request, viewer, exc.message)
    except ValidationError as exc:
        return _refused(request, viewer, validation_reason(exc))
    except ValueError as exc:
        return _refused(request, viewer, str(exc))
    return RedirectResponse(f"/console/extractors/infer/{job_id}", status_code=303)


def _refused(request: Request, viewer: Viewer, message: str) -> Response:
    return page(request, "infer.html", status=422, **_context(viewer, None, None, message))


def _context(
    viewer: Viewer, job: Job | None, settings: Settings | None, error: str
) -> dict[str, Any]:
    out, schema = None, ""
    if job is not None and settings is not None:
        try:
            out = inference_out(job, settings)
        except ApiError as exc:
            error = exc.message
        if out is not None and out.json_schema is not None:
            schema = json.dumps(out.json_schema, indent=2, ensure_ascii=False)
    running = job is not None and job.status not in TERMINAL
    return {
        "viewer": viewer,
        "csrf": viewer.csrf,
        "job": job,
        "inference": out,
        "running": running,
        "error": error,
        "values": {"name": "", "description": "", "json_schema": schema},
        "pointer": "",
    }


@router.get("/{job_id}", response_class=HTMLResponse)
def infer_view(
    request: Request,
    job_id: uuid.UUID,
    viewer: ViewerDep,
    session: ReadSessionDep,
    settings: SettingsDep,
    live: bool = False,
) -> Response:
    """The inference: live while it runs, then its schema in the register form.

    `live=1` answers the live part alone: what the page polls.
    """
    job = owned_job(session, viewer, job_id)
    context = _context(viewer, job, settings, "")
    if live:
        return page(request, "_infer_live.html", **context)
    return page(request, "infer.html", poll_ms=int(settings.app.console.poll_s * 1000), **context)
