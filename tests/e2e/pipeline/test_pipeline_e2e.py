"""The spine, end to end: real API over HTTP, a real Celery worker, Postgres, Redis, simulator."""

from __future__ import annotations

import base64

import pytest
from sqlalchemy import func, select

from schemas.extraction.registry import get_schema
from storage.models import LlmCall
from tests.support.stacks import LiveStack
from tests.support.waits import wait_job

pytestmark = pytest.mark.e2e

INVOICE = """ACME Tools GmbH, Hauptstrasse 1, Berlin. Invoice INV-2041 dated 2026-03-01.
Bill to: Globex Corp. 3 x hammer at 12.50 EUR, 2 x saw at 30.00 EUR. Payment due 2026-03-31."""


def test_submitted_job_succeeds_with_schema_valid_result_and_ledger_matching_simulator(
    live: LiveStack,
) -> None:
    live.sim("/sim/reset", {})
    with live.client() as client:
        created = client.post(
            "/v1/jobs", json={"schema": "invoice", "text": INVOICE, "metadata": {"ref": "A-1"}}
        )
        assert created.status_code == 202, created.text
        assert created.json()["status"] == "queued"
        job = wait_job(client, created.json()["id"])
    assert job["status"] == "succeeded", job
    get_schema("invoice").model.model_validate(job["result"])
    assert job["metadata"] == {"ref": "A-1"}
    assert job["model"] in (
        "gpt-5.6-luna",
        "gpt-5.6-terra",
        "claude-sonnet-5-5",
        "claude-haiku-5-5",
    )
    stats = live.sim("/sim/stats")
    sim_usage = stats["usage"][job["model"]]
    with live.session() as session:
        rows = session.execute(
            select(
                func.count(), func.sum(LlmCall.input_tokens), func.sum(LlmCall.output_tokens)
            ).where(LlmCall.job_id == job["id"])
        ).one()
    assert rows[0] == 1
    assert (rows[1], rows[2]) == (sim_usage["input_tokens"], sim_usage["output_tokens"])
    assert job["usage"]["input_tokens"] == rows[1]
    assert float(job["usage"]["cost_usd"]) > 0


def test_job_whose_every_answer_fails_validation_ends_validation_failed(live: LiveStack) -> None:
    with live.client() as client:
        created = client.post(
            "/v1/jobs",
            json={"schema": "invoice", "tier": "low", "text": INVOICE + "\n[[sim:invalid]]"},
        )
        assert created.status_code == 202, created.text
        job = wait_job(client, created.json()["id"])
    assert job["status"] == "failed"
    assert job["error"]["type"] == "validation_failed"
    assert job["error"]["message"]
    # every answer was billed: the first try plus the tier's re-asks
    with live.session() as session:
        calls = session.scalar(select(func.count()).where(LlmCall.job_id == job["id"]))
    assert calls == 2  # low tier: max_reasks = 1


def test_request_without_key_is_401_with_json_error(live: LiveStack) -> None:
    with live.client() as client:
        resp = client.post(
            "/v1/jobs", json={"schema": "invoice", "text": "x"}, headers={"Authorization": ""}
        )
    assert resp.status_code == 401
    assert resp.json()["error"]["type"] == "unauthorized"


def test_unknown_key_is_401(live: LiveStack) -> None:
    with live.client() as client:
        resp = client.get("/v1/schemas", headers={"Authorization": "Bearer dq_nope_nope"})
    assert resp.status_code == 401
    assert "not valid" in resp.json()["error"]["message"]


def test_another_tenants_job_answers_404(live: LiveStack) -> None:
    with live.client(live.alice) as alice:
        job_id = alice.post(
            "/v1/jobs", json={"schema": "document_summary", "text": "A short memo."}
        ).json()["id"]
    with live.client(live.bob) as bob:
        resp = bob.get(f"/v1/jobs/{job_id}")
    assert resp.status_code == 404
    assert resp.json()["error"]["type"] == "not_found"


def test_unknown_schema_is_422_with_json_error(live: LiveStack) -> None:
    with live.client() as client:
        resp = client.post("/v1/jobs", json={"schema": "horoscope", "text": "hello"})
    assert resp.status_code == 422
    assert resp.json()["error"]["type"] == "unknown_schema"
    assert "invoice" in resp.json()["error"]["message"]


@pytest.mark.parametrize(
    "payload",
    [
        {"schema": "invoice", "text": "   "},
        {"schema": "invoice", "content_base64": ""},
    ],
)
def test_empty_document_is_422_with_json_error(live: LiveStack, payload: dict[str, str]) -> None:
    with live.client() as client:
        resp = client.post("/v1/jobs", json=payload)
    assert resp.status_code == 422
    assert set(resp.json()["error"]) == {"type", "message"}


def test_oversized_document_is_413(live: LiveStack) -> None:
    big = "a" * (51 * 1024 * 1024)
    with live.client() as client:
        resp = client.post("/v1/jobs", json={"schema": "invoice", "text": big})
    assert resp.status_code == 413
    assert resp.json()["error"]["type"] in ("document_too_large", "request_too_large")


def test_malformed_json_body_is_422_not_500(live: LiveStack) -> None:
    with live.client() as client:
        resp = client.post(
            "/v1/jobs", content=b"{not json", headers={"content-type": "application/json"}
        )
    assert resp.status_code == 422
    assert resp.json()["error"]["type"] == "invalid_request"


def test_corrupt_pdf_ends_document_invalid(live: LiveStack) -> None:
    corrupt = base64.b64encode(b"%PDF-1.7\n1 0 obj << /Type /Catalog >> garbage").decode()
    with live.client() as client:
        created = client.post(
            "/v1/jobs",
            json={"schema": "invoice", "content_base64": corrupt, "filename": "broken.pdf"},
        )
        assert created.status_code == 202, created.text
        job = wait_job(client, created.json()["id"])
    assert job["status"] == "failed"
    assert job["error"]["type"] == "document_invalid"


def test_schemas_endpoint_lists_json_schemas(live: LiveStack) -> None:
    with live.client() as client:
        resp = client.get("/v1/schemas")
    names = {s["name"]: s for s in resp.json()}
    assert {"invoice", "document_summary", "contract", "resume"} <= set(names)
    assert "properties" in names["invoice"]["json_schema"]


def test_ready_checks_postgres_and_redis(live: LiveStack) -> None:
    with live.client() as client:
        resp = client.get("/ready")
    assert resp.status_code == 200
    assert resp.json()["checks"] == {"postgres": "ok", "redis": "ok"}
