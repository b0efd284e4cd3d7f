"""The FastAPI application: routes, error mapping, request ids, body-size limit."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable

import structlog
from fastapi import FastAPI, Request, Response

from api import errors
from api.console import mount as console
from api.middleware.bodylimit import BodyLimit
from api.routes import (
    batch_results,
    batches,
    diffs,
    docs,
    erasure,
    estimate,
    extractors,
    inference,
    jobs,
    meta,
    metrics,
    reruns,
    review,
    usage,
)
from api.routes import settings as tenant_settings
from schemas.config import get_settings
from tasks.observability.logs import configure_logging
from tasks.observability.tracing import instrument_api


def create_app() -> FastAPI:
    """Build the API."""
    settings = get_settings()
    configure_logging(settings)
    app = FastAPI(
        title="docqueue",
        version="0.1.0",
        description="Batch structured extraction from documents with LLMs.",
        responses=errors.ERROR_RESPONSES,
        docs_url=None,  # served from the package by api/routes/docs.py, not from a CDN
        redoc_url=None,
    )
    errors.install(app)
    docs.install(app)
    app.include_router(meta.router)
    app.include_router(jobs.router)
    app.include_router(inference.router)  # before /{name}: `infer` is not an extractor name
    app.include_router(extractors.router)
    app.include_router(batches.router)
    app.include_router(erasure.router)
    app.include_router(batch_results.router)
    app.include_router(estimate.router)
    app.include_router(reruns.router)
    app.include_router(diffs.router)
    app.include_router(usage.router)
    app.include_router(review.router)
    app.include_router(tenant_settings.router)
    app.include_router(metrics.router)
    console.install(app)  # /console: the browser pages
    # Inside _context, so its 413 carries the request id too.
    app.add_middleware(BodyLimit, limit=settings.app.limits.max_request_bytes)

    @app.middleware("http")
    async def _context(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        request_id = request.headers.get("x-request-id") or uuid.uuid4().hex
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=request_id)
        response = await call_next(request)
        response.headers["x-request-id"] = request_id
        return response

    instrument_api(app)  # only when OTEL_EXPORTER_OTLP_ENDPOINT is set
    return app
