"""FastAPI dependencies: settings, a database session, and the authenticated tenant."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

import structlog
from fastapi import Depends, Header, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from api.middleware.ratelimit import enforce as enforce_rate_limit
from schemas.config import Settings, get_settings
from storage.db import session_scope
from storage.errors import AuthError
from storage.models import Tenant
from storage.tenants import authenticate

SettingsDep = Annotated[Settings, Depends(get_settings)]


def _session() -> Iterator[Session]:
    with session_scope() as session:
        yield session


SessionDep = Annotated[Session, Depends(_session)]

# Declares the bearer scheme in OpenAPI (`securitySchemes`, Swagger's Authorize button).
# auto_error=False: the header is still read below, so a missing or malformed one gets
# our own 401 with the `{"error": ...}` shape instead of FastAPI's 403.
bearer = HTTPBearer(auto_error=False, description="A tenant API key (`dq_...`).")
BearerDep = Annotated[HTTPAuthorizationCredentials | None, Security(bearer)]


def _tenant(
    session: SessionDep,
    _bearer: BearerDep = None,
    authorization: Annotated[str | None, Header()] = None,
) -> Tenant:
    if not authorization:
        raise AuthError("is missing: send 'Authorization: Bearer <api key>'")
    scheme, _, key = authorization.partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        raise AuthError("is malformed: use 'Authorization: Bearer <api key>'")
    tenant = authenticate(session=session, api_key=key.strip())
    structlog.contextvars.bind_contextvars(tenant_id=str(tenant.id))
    enforce_rate_limit(tenant.id)  # every authenticated route, per tenant (429 when over)
    return tenant


TenantDep = Annotated[Tenant, Depends(_tenant)]


def _read_session() -> Iterator[Session]:
    # Read-only routes need no transaction: autocommit saves the BEGIN and COMMIT round
    # trips, a third of the database work of a GET /v1/jobs/{id} poll.
    with session_scope(autocommit=True) as session:
        yield session


ReadSessionDep = Annotated[Session, Depends(_read_session)]


def _read_tenant(
    session: ReadSessionDep,
    _bearer: BearerDep = None,
    authorization: Annotated[str | None, Header()] = None,
) -> Tenant:
    return _tenant(session, _bearer, authorization)


ReadTenantDep = Annotated[Tenant, Depends(_read_tenant)]
