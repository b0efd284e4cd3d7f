"""Worker logs: JSON lines with the job's context keys, no document text, PII redacted."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from storage import jobs as job_store
from tests.support.stacks import LiveStack
from tests.support.tenants import Tenant
from tests.support.waits import wait_for, wait_job

pytestmark = pytest.mark.e2e

MARKER = "Okapi-saxophone-9132"
EMAIL = "jane.roe@example.org"
PHONE = "+44 20 7946 0958"
CONTEXT_KEYS = {"request_id", "tenant_id", "job_id", "batch_id", "attempt"}


@pytest.fixture(scope="module")
def tenant(live: LiveStack) -> Tenant:
    """A tenant of its own on the shared stack, so its jobs disturb no other test."""
    return live.tenant("logs")


def _log(live: LiveStack) -> str:
    return (live.stack.run_dir / "worker1.log").read_text(errors="replace")


def _lines(live: LiveStack, job_id: str) -> list[dict[str, Any]]:
    """The worker's log lines about `job_id`, each parsed as JSON (a non-JSON line fails)."""
    return [json.loads(line) for line in _log(live).splitlines() if job_id in line]


def test_a_processed_jobs_worker_lines_are_json_with_context_and_no_document_text(
    live: LiveStack, tenant: Tenant
) -> None:
    with live.client(tenant) as client:
        created = client.post(
            "/v1/jobs",
            json={
                "schema": "document_summary",
                "tier": "low",
                "text": f"Memo {MARKER}. Questions to {EMAIL} or {PHONE}.",
            },
        )
        assert created.status_code == 202, created.text
        job = wait_job(client, created.json()["id"])
    assert job["status"] == "succeeded"
    lines = wait_for(
        lambda: (
            (found := _lines(live, job["id"]))
            and any(x["event"] == "job_finished" for x in found)
            and found
        ),
        timeout=10,
    )
    for line in lines:
        assert set(line) >= CONTEXT_KEYS, line
        assert line["job_id"] == job["id"]
        assert line["tenant_id"] == tenant.id
        assert line["attempt"] == 1
        assert line["batch_id"] is None
        assert line["request_id"]
    calls = [x for x in lines if x["event"] == "model_call"]
    assert calls
    assert {x["model"] for x in calls} == {job["model"]}
    finished = next(x for x in lines if x["event"] == "job_finished")
    assert (finished["status"], finished["model"]) == ("succeeded", job["model"])
    everything = _log(live)
    for secret in (MARKER, EMAIL, PHONE):
        assert secret not in everything


def test_an_internal_error_quoting_an_email_and_phone_logs_only_its_class(
    live: LiveStack, tenant: Tenant
) -> None:
    # The worker's crash path quotes what it was given: a schema name carrying PII.
    bad_schema = f"{EMAIL} {PHONE}"
    with live.session() as session:
        job, _ = job_store.create_job(
            session=session,
            new=job_store.NewJob(
                tenant_id=uuid.UUID(tenant.id),
                schema_name=bad_schema,
                schema_version="1",
                prompt_version="1",
                tier="low",
                tier_reason="test",
                document_sha256=None,
            ),
        )
        job_id = str(job.id)
    with live.client(tenant) as client:
        failed = wait_job(client, job_id)
    assert failed["status"] == "failed"
    assert EMAIL in failed["error"]["message"]  # the tenant sees its own data in the API
    lines = wait_for(
        lambda: [x for x in _lines(live, job_id) if x["event"] == "job_finished"], timeout=10
    )
    # An internal error's text can quote anything it was given: the log keeps its class.
    assert lines[0]["error_type"] == "internal_error"
    assert lines[0]["error"] == failed["error"]["message"].partition(":")[0]
    everything = _log(live)
    assert EMAIL not in everything
    assert PHONE not in everything
