"""The API's error shape, as the e2e API tests check it."""

from __future__ import annotations

from typing import Any

import httpx


def assert_json_error(resp: httpx.Response, status: int) -> dict[str, Any]:
    """`resp` is the API's JSON error shape with `status`."""
    assert resp.status_code == status, resp.text[:500]
    body: dict[str, Any] = resp.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"type", "message"}
    return body
