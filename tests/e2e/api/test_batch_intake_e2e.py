"""POST /v1/batches refuses what Postgres cannot store with a 4xx, never a 5xx."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from sqlalchemy import func, select

from storage.models import Job
from tests.e2e.api.json_errors import assert_json_error
from tests.support.stacks import LiveStack
from tests.support.tenants import Tenant

pytestmark = pytest.mark.e2e

UNSTORABLE = [
    {"filename": "evil\x00name.txt"},
    {"key": "nul\x00key"},
    {"metadata": {"ref": "nul\x00byte"}},
    {"metadata": {"nul\x00key": 1}},
]
IDS = ["nul-filename", "nul-key", "nul-metadata-value", "nul-metadata-key"]


@pytest.fixture(scope="module")
def uploader(live: LiveStack) -> Tenant:
    """A tenant of its own, so its job count is this module's alone."""
    return live.tenant("batch-intake")


def _jobs(live: LiveStack, tenant: Tenant) -> int:
    with live.session() as session:
        count = session.scalar(
            select(func.count()).select_from(Job).where(Job.tenant_id == uuid.UUID(tenant.id))
        )
    return int(count or 0)


@pytest.mark.parametrize("extra", UNSTORABLE, ids=IDS)
def test_a_json_batch_with_an_unstorable_document_is_a_json_422_and_stores_nothing(
    live: LiveStack, uploader: Tenant, extra: dict[str, Any]
) -> None:
    before = _jobs(live, uploader)
    docs = [{"text": "A fine memo."}, {"text": "A hostile memo.", **extra}]
    with live.client(uploader) as client:
        resp = client.post(
            "/v1/batches",
            content=json.dumps({"schema": "document_summary", "tier": "low", "documents": docs}),
            headers={"content-type": "application/json"},
        )
    error = assert_json_error(resp, 422)
    assert error["error"]["type"] == "invalid_request"
    assert "documents.1" in error["error"]["message"]
    assert _jobs(live, uploader) == before


@pytest.mark.parametrize("extra", UNSTORABLE, ids=IDS)
def test_an_unstorable_ndjson_line_is_rejected_and_the_other_documents_are_queued(
    live: LiveStack, uploader: Tenant, extra: dict[str, Any]
) -> None:
    lines = [
        {"schema": "document_summary", "tier": "low"},
        {"text": "First memo of the stream."},
        {"text": "A hostile memo.", **extra},
        {"text": "Third memo of the stream."},
    ]
    body = b"".join(json.dumps(line).encode() + b"\n" for line in lines)
    with live.client(uploader) as client:
        resp = client.post(
            "/v1/batches", content=body, headers={"content-type": "application/x-ndjson"}
        )
    assert resp.status_code == 202, resp.text[:500]
    accepted = resp.json()
    assert (accepted["created"], accepted["rejected"]) == (2, 1)
    assert [r["line"] for r in accepted["rejected_lines"]] == [3]
    assert "NUL" in accepted["rejected_lines"][0]["message"]


def test_a_batch_header_with_a_nul_webhook_url_is_a_json_422(
    live: LiveStack, uploader: Tenant
) -> None:
    body = {
        "schema": "document_summary",
        "webhook_url": "https://example.com/\x00hook",
        "documents": [{"text": "A memo."}],
    }
    with live.client(uploader) as client:
        resp = client.post(
            "/v1/batches",
            content=json.dumps(body),
            headers={"content-type": "application/json"},
        )
    assert_json_error(resp, 422)
