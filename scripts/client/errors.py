"""The errors of the docqueue client: one root, the network, and the API's answers by status.

An API error answer is `{"error": {"type", "message", ...}}`; `APIStatusError` carries its
status, type, message and the whole error object (`detail`: a 422's `pointer`, say). Every
message is one line, fit to show a user, and neither it nor `detail` holds the API key.
"""

from __future__ import annotations

from typing import Any

import httpx

__all__ = [
    "APIConnectionError",
    "APIStatusError",
    "APITimeoutError",
    "ApiClientError",
    "AuthenticationError",
    "BadRequestError",
    "ConflictError",
    "DocqueueError",
    "InternalServerError",
    "NotFoundError",
    "PermissionDeniedError",
    "RateLimitError",
    "UnprocessableEntityError",
    "WaitTimeoutError",
    "error_from_response",
    "redacted",
]


class DocqueueError(Exception):
    """Root of every client error; `str()` is one line, fit to show a user."""

    retryable = False

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        type_: str | None = None,
        detail: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.type = status, type_
        self.message = message
        self.detail: dict[str, Any] = detail or {}  # the API's whole `error` object

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self)!r})"


ApiClientError = DocqueueError  # the name scripts/ingest/client.py used: code migrates freely


class APIConnectionError(DocqueueError):
    """The API could not be reached, or the connection broke off before the answer was whole."""

    retryable = True


class APITimeoutError(APIConnectionError):
    """The API did not answer within the client's timeout."""


class WaitTimeoutError(DocqueueError, TimeoutError):
    """A wait (for a batch, an inference) ran out of time; `last` is the last answer seen."""

    def __init__(self, message: str, *, last: dict[str, Any] | None = None) -> None:
        super().__init__(message, type_="timeout")
        self.last: dict[str, Any] = last or {}


class APIStatusError(DocqueueError):
    """The API answered with an error status: `status`, `type`, `message`, `detail`.

    `retry_after_s` is the API's Retry-After, if it sent one. `after_lost_answer` is True
    when an earlier try of the same call may have done its work before its answer was lost
    (a read timeout, a 502): a 409 then may be about the change that try made.
    """

    status: int
    type: str

    def __init__(
        self,
        message: str,
        *,
        status: int,
        type_: str,
        api_message: str,
        detail: dict[str, Any] | None = None,
        retry_after_s: float | None = None,
    ) -> None:
        super().__init__(message, status=status, type_=type_, detail=detail)
        self.message = api_message  # the API's own words; str(self) adds status and type
        self.retry_after_s = retry_after_s
        self.after_lost_answer = False  # set by the transport, which knows the earlier tries


class BadRequestError(APIStatusError):
    """400: the request was malformed."""


class AuthenticationError(APIStatusError):
    """401: no key, an unknown, revoked or expired one."""


class PermissionDeniedError(APIStatusError):
    """403: the key may not do this."""


class NotFoundError(APIStatusError):
    """404: no such batch, job or extractor for this tenant."""


class ConflictError(APIStatusError):
    """409: an Idempotency-Key reused for another body, or a state that forbids the change."""


class UnprocessableEntityError(APIStatusError):
    """422: the request was understood but refused (an unknown schema, a schema_invalid...)."""


class RateLimitError(APIStatusError):
    """429: over the tenant's request rate; `retry_after_s` is the API's hint, if any."""

    retryable = True


class InternalServerError(APIStatusError):
    """5xx: the API (or a proxy before it) failed; worth another try."""

    retryable = True


_BY_STATUS: dict[int, type[APIStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    422: UnprocessableEntityError,
    429: RateLimitError,
}


def _one_line(text: str, limit: int = 300) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def redacted(value: Any, secret: str | None) -> Any:
    """`value` with `secret` blanked out of every string in it, keys and nested ones included."""
    if not secret:
        return value
    if isinstance(value, str):
        return value.replace(secret, "***")
    if isinstance(value, dict):
        return {redacted(k, secret): redacted(v, secret) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redacted(v, secret) for v in value]
    return value


def error_from_response(
    resp: httpx.Response, *, retry_after_s: float | None = None, secret: str | None = None
) -> APIStatusError:
    """The typed error for an error answer (its body read); `secret` is blanked out of it."""
    detail: dict[str, Any] = {}
    try:
        found = resp.json()["error"]
        type_, api_message = str(found["type"]), str(found["message"])
        detail = redacted(dict(found), secret)
    except (ValueError, KeyError, TypeError):
        type_, api_message = "http_error", resp.text[:200] or resp.reason_phrase
    api_message = _one_line(redacted(api_message, secret))
    type_ = _one_line(redacted(type_, secret), 100)
    status = resp.status_code
    cls = _BY_STATUS.get(status) or (InternalServerError if status >= 500 else APIStatusError)
    return cls(
        f"HTTP {status} {type_}: {api_message}",
        status=status,
        type_=type_,
        api_message=api_message,
        detail=detail,
        retry_after_s=retry_after_s,
    )
