"""GET /v1/jobs pages with a keyset cursor, even when jobs share a created_at."""

from __future__ import annotations

import pytest

from tests.support.stacks import LiveStack

pytestmark = pytest.mark.e2e


def test_keyset_pages_return_every_batch_job_exactly_once(live: LiveStack) -> None:
    tenant = live.tenant("pager")
    docs = [{"text": f"memo number {i}", "key": f"page-{i}"} for i in range(25)]
    with live.client(tenant) as client:
        created = client.post(
            "/v1/batches", json={"schema": "document_summary", "tier": "low", "documents": docs}
        )
        assert created.status_code == 202, created.text
        batch_id = created.json()["id"]
        seen: list[str] = []
        cursor = None
        for _ in range(10):
            params = {"batch_id": batch_id, "limit": 10, **({"cursor": cursor} if cursor else {})}
            page = client.get("/v1/jobs", params=params).json()
            seen += [item["id"] for item in page["items"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
    assert len(seen) == 25
    assert len(set(seen)) == 25


def test_a_forged_cursor_is_a_422_not_a_500(live: LiveStack) -> None:
    with live.client() as client:
        resp = client.get("/v1/jobs", params={"cursor": "not-a-cursor"})
    assert resp.status_code == 422
    assert resp.json()["error"]["type"] == "invalid_cursor"
