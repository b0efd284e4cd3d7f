"""Listing cursors: what the API issues decodes back; anything else is a 422, never a 500."""

from __future__ import annotations

import base64
import datetime as dt
import json
import uuid

import pytest

from api.errors import ApiError
from api.paging import decode_cursor, encode_cursor


def _b64(value: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode()


def test_an_issued_cursor_decodes_to_the_same_keyset_position() -> None:
    """encode then decode is the identity on (created_at, id)."""
    cursor = (dt.datetime(2026, 12, 1, 9, 30, tzinfo=dt.UTC), uuid.uuid4())
    assert decode_cursor(encode_cursor(cursor)) == cursor


@pytest.mark.parametrize(
    "raw",
    [
        "not-a-cursor",
        _b64(["2026-01-01T00:00:00+00:00", 5]),
        _b64(["2026-01-01T00:00:00+00:00", [1]]),
        _b64([7, str(uuid.uuid4())]),
        _b64(["2026-01-01T00:00:00", str(uuid.uuid4())]),  # no offset: never issued
        _b64({"a": 1}),
        _b64(["2026-01-01T00:00:00+00:00"]),
    ],
)
def test_a_cursor_this_api_did_not_issue_is_an_invalid_cursor_422(raw: str) -> None:
    """Malformed, wrongly typed or offset-less cursors all raise ApiError 422."""
    with pytest.raises(ApiError) as caught:
        decode_cursor(raw)
    assert caught.value.status == 422
    assert caught.value.type == "invalid_cursor"
