"""Extractors as data: create versions, list, read, archive. Another tenant's is a 404."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response

from api.deps import ReadSessionDep, ReadTenantDep, SessionDep, SettingsDep, TenantDep
from api.errors import ApiError
from api.views.extractors import extractor_out, version_out
from schemas.extractor_api import (
    NAME_PATTERN,
    ExtractorCreate,
    ExtractorList,
    ExtractorOut,
    ExtractorSettings,
    ExtractorVersionOut,
)
from storage import extractors as store
from storage import trust_settings
from tasks.extractors.registry import ensure_builtins
from tasks.extractors.service import register

router = APIRouter(prefix="/v1/extractors", tags=["extractors"])
# Checked before any query: a NUL byte or an int4 overflow would otherwise be a 500.
Name = Annotated[str, Path(pattern=NAME_PATTERN)]
VersionNumber = Annotated[int, Path(ge=1, le=2**31 - 1)]


@router.post("", status_code=201, response_model=ExtractorVersionOut)
def create_extractor(
    body: ExtractorCreate,
    response: Response,
    session: SessionDep,
    tenant: TenantDep,
    settings: SettingsDep,
) -> ExtractorVersionOut:
    """Register a version (201); the same content as the latest version returns it (200).

    The schema is checked at the door: anything outside the subset both providers accept
    is a 422 `schema_invalid` with the JSON Pointer of the offending keyword. Trust
    settings given (`review_threshold`, `verify`) are set on the extractor, as PATCH does.
    """
    extractor, version, created = register(
        session=session, tenant_id=tenant.id, body=body, limits=settings.app.extractors.limits
    )
    chosen = body.model_dump(include={"review_threshold", "verify"}, exclude_unset=True)
    if chosen:
        extractor = trust_settings.set_extractor_settings(
            session=session, tenant_id=tenant.id, name=extractor.name, values=chosen
        )
    if not created:
        response.status_code = 200
    return version_out(extractor, version)


@router.get("", response_model=ExtractorList)
def list_extractors(session: ReadSessionDep, tenant: ReadTenantDep) -> ExtractorList:
    """The tenant's extractors and the built-in ones."""
    ensure_builtins(session=session)
    rows = store.list_extractors(session=session, tenant_id=tenant.id)
    return ExtractorList(data=[extractor_out(row) for row in rows])


@router.get("/{name}", response_model=ExtractorOut)
def read_extractor(name: Name, session: ReadSessionDep, tenant: ReadTenantDep) -> ExtractorOut:
    """One extractor with its versions."""
    ensure_builtins(session=session)
    row = store.find_extractor(session=session, tenant_id=tenant.id, name=name)
    return extractor_out(row, store.list_versions(session=session, extractor_id=row.id))


@router.get("/{name}/versions/{version}", response_model=ExtractorVersionOut)
def read_version(
    name: Name, version: VersionNumber, session: ReadSessionDep, tenant: ReadTenantDep
) -> ExtractorVersionOut:
    """One immutable version."""
    ensure_builtins(session=session)
    row = store.find_extractor(session=session, tenant_id=tenant.id, name=name)
    return version_out(row, store.get_version(session=session, extractor=row, version=version))


@router.patch("/{name}", response_model=ExtractorOut)
def update_extractor(
    name: Name, body: ExtractorSettings, session: SessionDep, tenant: TenantDep
) -> ExtractorOut:
    """Change the extractor's trust settings; a field left out stays, null clears it.

    New jobs snapshot them at submission: `review_threshold` (a job with a field below it
    goes to review; null: the tenant's) and `verify` (`self_consistency` asks for a second
    sample). Built-ins are shared by every tenant and cannot be changed: use
    PATCH /v1/settings or the submission's own fields.
    """
    ensure_builtins(session=session)  # so a built-in's name is a 422 here, never a 404
    row = store.find_extractor(session=session, tenant_id=tenant.id, name=name)
    if row.tenant_id is None:
        raise ApiError(422, "extractor_builtin", f"{name!r} is built in and cannot be changed")
    values = body.model_dump(exclude_unset=True)
    updated = trust_settings.set_extractor_settings(
        session=session, tenant_id=tenant.id, name=name, values=values
    )
    return extractor_out(updated)


@router.delete("/{name}", response_model=ExtractorOut)
def archive_extractor(name: Name, session: SessionDep, tenant: TenantDep) -> ExtractorOut:
    """Archive: new jobs are refused, old results stay readable. Built-ins cannot be."""
    row = store.find_extractor(session=session, tenant_id=tenant.id, name=name)
    if row.tenant_id is None:
        raise ApiError(422, "extractor_builtin", f"{name!r} is built in and cannot be archived")
    return extractor_out(store.archive_extractor(session=session, tenant_id=tenant.id, name=name))
