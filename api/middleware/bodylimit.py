"""Request body size limit as pure ASGI: by Content-Length up front, and while bodies stream.

The one body-size check of the API; NDJSON batch uploads are exempt (see _streamed_batch).

A chunked body has no Content-Length, so the bytes are counted as the app reads them; past
the limit the read raises a 413 HTTPException, which the error handlers turn into the JSON
error shape (nothing past the limit is ever buffered).
"""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api import errors
from schemas.batch_api import NDJSON_TYPES, media_type


class BodyTooLarge(HTTPException):
    """The body outgrew the limit while streaming."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"request body exceeds {limit} bytes")


def _streamed_batch(scope: Scope) -> bool:
    # An NDJSON batch upload is read line by line and every line is size-checked by the
    # batches route, so its total may exceed the single-request cap (100k documents).
    if scope.get("method") != "POST" or scope.get("path") != "/v1/batches":
        return False
    return any(
        name == b"content-type" and media_type(value.decode("latin-1")) in NDJSON_TYPES
        for name, value in scope["headers"]
    )


class BodyLimit:
    """Refuse request bodies over `limit` bytes, with or without a Content-Length."""

    def __init__(self, app: ASGIApp, *, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Check the declared length, then count what is received."""
        if scope["type"] != "http" or _streamed_batch(scope):
            await self.app(scope, receive, send)
            return
        for name, value in scope["headers"]:
            if name == b"content-length" and value.isdigit() and int(value) > self.limit:
                await errors.too_large(self.limit)(scope, receive, send)
                return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise BodyTooLarge(self.limit)
            return message

        await self.app(scope, counted, send)
