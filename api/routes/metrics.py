"""GET /metrics: platform state for Prometheus (open, or behind METRICS_TOKEN when set)."""

from __future__ import annotations

import hmac
import threading
from typing import Annotated

from fastapi import APIRouter, Header, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.process_collector import ProcessCollector

from api.deps import SettingsDep
from api.errors import ApiError
from schemas.config import Settings
from tasks.observability.collector import StateCollector

router = APIRouter()
_lock = threading.Lock()
_registries: dict[int, CollectorRegistry] = {}


def _registry(settings: Settings) -> CollectorRegistry:
    """One registry per process (and settings object), built on the first scrape."""
    with _lock:
        found = _registries.get(id(settings))
        if found is None:
            found = CollectorRegistry(auto_describe=True)
            found.register(StateCollector(settings))
            ProcessCollector(registry=found)
            _registries[id(settings)] = found
        return found


@router.get("/metrics", include_in_schema=False)
def metrics(
    settings: SettingsDep, authorization: Annotated[str | None, Header()] = None
) -> Response:
    """Prometheus text format; read from Postgres and Redis at scrape time."""
    if settings.metrics_token and not hmac.compare_digest(
        (authorization or "").encode(), f"Bearer {settings.metrics_token}".encode()
    ):
        raise ApiError(
            401,
            "unauthorized",
            "send 'Authorization: Bearer <METRICS_TOKEN>'",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return Response(generate_latest(_registry(settings)), media_type=CONTENT_TYPE_LATEST)
