"""Liveness, readiness and the schema catalogue."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from api.deps import SessionDep, SettingsDep, TenantDep
from schemas.api import SchemaOut
from schemas.extraction.registry import json_schema, list_schemas
from storage.db import ping
from tasks.flow.connection import redis_client

router = APIRouter()


@router.get("/health", tags=["meta"])
def health() -> dict[str, str]:
    """Liveness: the process answers."""
    return {"status": "ok"}


@router.get("/ready", tags=["meta"])
def ready(session: SessionDep, settings: SettingsDep) -> JSONResponse:
    """Readiness: Postgres and Redis both answer."""
    checks: dict[str, str] = {}
    try:
        ping(session=session)
        checks["postgres"] = "ok"
    except Exception as exc:  # noqa: BLE001 - readiness reports, it does not raise
        checks["postgres"] = f"error: {type(exc).__name__}"
    try:
        client = redis_client(settings.redis_url, socket_timeout=2, socket_connect_timeout=2)
        client.ping()
        client.close()
        checks["redis"] = "ok"
    except Exception as exc:  # noqa: BLE001
        checks["redis"] = f"error: {type(exc).__name__}"
    ok = all(v == "ok" for v in checks.values())
    return JSONResponse(
        status_code=200 if ok else 503,
        content={"status": "ok" if ok else "unavailable", "checks": checks},
    )


@router.get("/v1/schemas", response_model=list[SchemaOut], tags=["schemas"])
def schemas(_tenant: TenantDep) -> list[SchemaOut]:
    """The extraction schemas on offer, each with its JSON Schema."""
    return [
        SchemaOut(
            name=s.name,
            version=s.version,
            prompt_version=s.prompt.version,
            description=s.description,
            json_schema=json_schema(s),
        )
        for s in list_schemas()
    ]
