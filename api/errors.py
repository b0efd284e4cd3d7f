"""Every error becomes `{"error": {"type", "message"}}` here, and only here."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.console.errors import ConsoleError, SignInRequired
from api.console.render import error_page, is_console
from schemas.api import ErrorBody
from schemas.errors import ExtractorArchived, SchemaInvalid, UnknownSchemaError
from storage.errors import (
    AuthError,
    Erased,
    IdempotencyConflict,
    InvalidState,
    NotFound,
    StorageError,
)

log = structlog.get_logger(__name__)


class ApiError(Exception):
    """An error the API answers with a given status and type."""

    retryable = False

    def __init__(
        self, status: int, type_: str, message: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status, self.type, self.message, self.headers = status, type_, message, headers


def body(type_: str, message: str) -> dict[str, dict[str, str]]:
    """The JSON error shape."""
    return {"error": {"type": type_, "message": message}}


def _json(
    status: int, type_: str, message: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(status_code=status, content=body(type_, message), headers=headers)


_STORAGE: dict[type[StorageError], tuple[int, str]] = {
    AuthError: (401, "unauthorized"),
    NotFound: (404, "not_found"),
    Erased: (410, "erased"),
    IdempotencyConflict: (409, "idempotency_conflict"),
    InvalidState: (409, "invalid_state"),
}


def _validation_message(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors()[:5]:
        where = ".".join(str(p) for p in err.get("loc", ()) if p != "body")
        parts.append(f"{where or 'body'}: {err.get('msg', 'invalid')}")
    return "; ".join(parts) or "invalid request"


def install(app: FastAPI) -> None:
    """Register the handlers that map errors to HTTP answers."""

    @app.exception_handler(ApiError)
    async def _api(_: Request, exc: ApiError) -> JSONResponse:
        return _json(exc.status, exc.type, exc.message, exc.headers)

    @app.exception_handler(StorageError)
    async def _storage(_: Request, exc: StorageError) -> JSONResponse:
        status, type_ = _STORAGE.get(type(exc), (400, "bad_request"))
        headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
        return _json(status, type_, str(exc), headers)

    @app.exception_handler(UnknownSchemaError)
    async def _schema(_: Request, exc: UnknownSchemaError) -> JSONResponse:
        return _json(422, "unknown_schema", str(exc))

    @app.exception_handler(SchemaInvalid)
    async def _schema_invalid(_: Request, exc: SchemaInvalid) -> JSONResponse:
        content = body("schema_invalid", str(exc))
        content["error"]["pointer"] = exc.pointer  # RFC 6901, into the submitted json_schema
        return JSONResponse(status_code=422, content=content)

    @app.exception_handler(ExtractorArchived)
    async def _archived(_: Request, exc: ExtractorArchived) -> JSONResponse:
        return _json(422, "extractor_archived", str(exc))

    @app.exception_handler(ConsoleError)
    async def _console(request: Request, exc: ConsoleError) -> Response:
        if isinstance(exc, SignInRequired) and request.method == "GET":
            return RedirectResponse(f"/console/signin?next={quote(exc.next_path)}", 303)
        return error_page(request, exc.status, exc.message)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        if is_console(request):
            return error_page(request, 422, "no such page")
        return _json(422, "invalid_request", _validation_message(exc))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        if is_console(request):
            return error_page(request, exc.status_code, str(exc.detail))
        type_ = {404: "not_found", 405: "method_not_allowed", 413: "request_too_large"}.get(
            exc.status_code, "http_error"
        )
        return _json(exc.status_code, type_, str(exc.detail), getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _crash(_: Request, exc: Exception) -> JSONResponse:
        log.error("unhandled_error", error_class=type(exc).__name__)
        return _json(500, "internal_error", "internal error; the request was not applied")


def too_large(limit: int) -> JSONResponse:
    """413 for a body over the configured limit."""
    return _json(413, "request_too_large", f"request body exceeds {limit} bytes")


_ERROR_STATUSES = {
    400: "Bad request",
    401: "Missing, malformed or unknown API key",
    404: "No such resource (or it belongs to another tenant)",
    405: "Method not allowed",
    409: "Conflict: idempotency key reused with another body, or the wrong state",
    410: "Erased on request (DELETE /v1/batches/{id})",
    413: "Request or document too large",
    415: "Unsupported media type",
    422: "Invalid request",
    429: "Over the tenant's request rate (see Retry-After)",
    500: "Internal error; the request was not applied",
}
# The OpenAPI spec documents every error answer with its real shape (FastAPI would
# otherwise advertise its own 422 body, which the handlers above never send).
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": text} for status, text in _ERROR_STATUSES.items()
}
