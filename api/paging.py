"""Query parameters of the listing routes: opaque keyset cursors and RFC 3339 datetimes."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import uuid

from rfc3339_validator import validate_rfc3339

from api.errors import ApiError
from storage.rows import Cursor


def encode_cursor(cursor: Cursor) -> str:
    """The opaque form of a (created_at, id) keyset cursor."""
    created_at, ident = cursor
    raw = json.dumps([created_at.isoformat(), str(ident)]).encode()
    return base64.urlsafe_b64encode(raw).decode()


def decode_cursor(cursor: str) -> Cursor:
    """A cursor this API issued, or a 422 `invalid_cursor`."""
    invalid = ApiError(422, "invalid_cursor", "cursor is not one this API issued")
    try:
        created, ident = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        created_at, ident = dt.datetime.fromisoformat(created), uuid.UUID(ident)
    # AttributeError: a decodable cursor whose parts are not strings ([..., 5]).
    except (ValueError, TypeError, AttributeError, binascii.Error, json.JSONDecodeError) as exc:
        raise invalid from exc
    if created_at.tzinfo is None:  # every issued cursor carries its offset
        raise invalid
    return created_at, ident


def rfc3339(name: str, value: str | None) -> dt.datetime | None:
    """Parse an RFC 3339 date-time query parameter (offset required), or a 422."""
    if value is None:
        return None
    invalid = ApiError(
        422,
        "invalid_request",
        f"{name}: not an RFC 3339 date-time with an offset, like 2026-01-31T12:00:00Z "
        "(in a URL, send '+' as %2B)",
    )
    if not validate_rfc3339(value):
        raise invalid
    try:
        return dt.datetime.fromisoformat(value)
    except ValueError as exc:  # e.g. more fractional digits than Python keeps
        raise invalid from exc
