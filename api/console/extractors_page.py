"""The extractors: the list, each one's versions and schema, and a form that registers a
pasted or uploaded JSON Schema (a refused schema is shown inline with its JSON Pointer)."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session
from starlette.datastructures import UploadFile

from api.console.auth import Viewer, ViewerDep, check_csrf
from api.console.errors import PageNotFound
from api.console.render import page
from api.deps import ReadSessionDep, SessionDep, SettingsDep
from api.views.batches import validation_reason
from api.views.extractors import extractor_out, version_out
from schemas.errors import SchemaInvalid
from schemas.extractor_api import ExtractorCreate
from storage import extractors as store
from storage.errors import NotFound
from tasks.extractors.registry import ensure_builtins
from tasks.extractors.service import register

router = APIRouter(prefix="/console/extractors", include_in_schema=False)
MAX_SCHEMA_BYTES = 256 * 1024


def _list(request: Request, session: Session, viewer: Viewer, **form: Any) -> Response:
    ensure_builtins(session=session)
    rows = store.list_extractors(session=session, tenant_id=viewer.tenant.id)
    form.setdefault("error", "")
    form.setdefault("pointer", "")
    form.setdefault("values", {"name": "", "description": "", "json_schema": ""})
    status = 422 if form["error"] else 200
    return page(
        request,
        "extractors.html",
        status=status,
        viewer=viewer,
        csrf=viewer.csrf,
        extractors=[extractor_out(r) for r in rows],
        **form,
    )


@router.get("", response_class=HTMLResponse)
def extractors(request: Request, viewer: ViewerDep, session: ReadSessionDep) -> Response:
    """Every extractor the tenant can use, built-in ones included, and the create form."""
    return _list(request, session, viewer)


@router.get("/{name}", response_class=HTMLResponse)
def extractor(
    request: Request, name: str, viewer: ViewerDep, session: ReadSessionDep, version: int = 0
) -> Response:
    """One extractor: its versions, and the schema of the chosen one (the latest by default)."""
    ensure_builtins(session=session)
    try:
        row = store.find_extractor(session=session, tenant_id=viewer.tenant.id, name=name)
        chosen = store.get_version(
            session=session, extractor=row, version=version or row.latest_version
        )
    except NotFound:
        raise PageNotFound("extractor") from None
    versions = store.list_versions(session=session, extractor_id=row.id)
    shown = version_out(row, chosen)
    return page(
        request,
        "extractor.html",
        viewer=viewer,
        csrf=viewer.csrf,
        extractor=extractor_out(row, versions),
        version=shown,
        schema_text=json.dumps(shown.json_schema, indent=2, ensure_ascii=False),
    )


async def _schema_text(form: Any) -> str:
    upload = form.get("schema_file")
    if isinstance(upload, UploadFile) and upload.filename:
        raw = await upload.read(MAX_SCHEMA_BYTES + 1)
        if len(raw) > MAX_SCHEMA_BYTES:
            raise ValueError(f"the file is over {MAX_SCHEMA_BYTES // 1024} KiB")
        return raw.decode("utf-8", errors="replace")
    return str(form.get("json_schema") or "")


@router.post("", response_class=HTMLResponse)
async def create(
    request: Request, viewer: ViewerDep, session: SessionDep, settings: SettingsDep
) -> Response:
    """Register a version from a pasted or uploaded schema; refusals come back inline."""
    form = await request.form()
    check_csrf(viewer, str(form.get("csrf") or ""))
    values = {k: str(form.get(k) or "") for k in ("name", "description", "json_schema")}
    try:
        text = await _schema_text(form)
        values["json_schema"] = text
        body = ExtractorCreate(
            name=values["name"].strip(),
            description=values["description"],
            json_schema=json.loads(text),
        )
        row, _, _ = register(
            session=session,
            tenant_id=viewer.tenant.id,
            body=body,
            limits=settings.app.extractors.limits,
        )
    except SchemaInvalid as exc:
        session.rollback()
        pointer = exc.pointer or "/"
        return _list(request, session, viewer, error=exc.reason, pointer=pointer, values=values)
    except json.JSONDecodeError as exc:
        why = f"not JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}"
        return _list(request, session, viewer, error=why, values=values)
    except ValidationError as exc:
        return _list(request, session, viewer, error=validation_reason(exc), values=values)
    except ValueError as exc:
        return _list(request, session, viewer, error=str(exc), values=values)
    session.commit()  # before the answer: the extractor's page must find the new version
    return RedirectResponse(f"/console/extractors/{row.name}", status_code=303)
