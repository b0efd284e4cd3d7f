"""The lane and deadline a submission asks for are stored on every job and shown back.

Only what intake stores and the API answers is checked: until the batcher exists, batch-lane
jobs run through today's worker path, so nothing here waits for processing.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from scripts.client import BatchSummary, Client
from storage.models import Job
from tests.e2e.api.json_errors import assert_json_error
from tests.support.stacks import LiveStack
from tests.support.tenants import Tenant

pytestmark = pytest.mark.e2e

WINDOW = "the 24 h batch window plus 2 h margin"  # the shipped [batch_lane] defaults


@pytest.fixture(scope="module")
def tenant(live: LiveStack) -> Tenant:
    """A tenant of this module's own."""
    return live.tenant("lanes")


def _in(hours: float) -> dt.datetime:
    return dt.datetime.now(dt.UTC) + dt.timedelta(hours=hours)


def _job(client: httpx.Client, **fields: Any) -> httpx.Response:
    memo = f"Memo {uuid.uuid4().hex}: the lane of this job is under test."
    body = {"schema": "document_summary", "tier": "low", "text": memo, **fields}
    return client.post("/v1/jobs", json=body)


def _stored(live: LiveStack, job_id: str) -> tuple[str, str, dt.datetime | None]:
    with live.session() as session:
        row = session.execute(
            select(Job.lane, Job.lane_reason, Job.deadline).where(Job.id == uuid.UUID(job_id))
        ).one()
    return row.lane, row.lane_reason, row.deadline


def test_auto_with_a_deadline_an_hour_out_stores_realtime_with_its_reason(
    live: LiveStack, tenant: Tenant
) -> None:
    deadline = _in(1)
    with live.client(tenant) as client:
        resp = _job(client, lane="auto", deadline=deadline.isoformat())
        assert resp.status_code == 202, resp.text
        job = client.get(f"/v1/jobs/{resp.json()['id']}").json()
    reason = f"auto: deadline in 1.0 h is sooner than {WINDOW}"
    assert (job["lane"], job["lane_reason"]) == ("realtime", reason)
    assert dt.datetime.fromisoformat(job["deadline"]) == deadline
    assert _stored(live, job["id"]) == ("realtime", reason, deadline)


def test_auto_with_a_deadline_two_days_out_stores_batch_with_its_reason(
    live: LiveStack, tenant: Tenant
) -> None:
    deadline = _in(48)
    with live.client(tenant) as client:
        resp = _job(client, lane="auto", deadline=deadline.isoformat())
    assert resp.status_code == 202, resp.text
    job = resp.json()
    assert job["lane"] == "batch"
    assert job["lane_reason"] in {
        f"auto: deadline in {h} h leaves {WINDOW}" for h in ("48.0", "47.9")
    }
    assert _stored(live, job["id"]) == ("batch", job["lane_reason"], deadline)


def test_a_job_that_asks_for_no_lane_is_realtime_as_requested_without_a_deadline(
    live: LiveStack, tenant: Tenant
) -> None:
    with live.client(tenant) as client:
        resp = _job(client)
    assert resp.status_code == 202, resp.text
    job = resp.json()
    assert (job["lane"], job["lane_reason"], job["deadline"]) == ("realtime", "requested", None)


def test_a_naive_deadline_is_a_json_422(live: LiveStack, tenant: Tenant) -> None:
    with live.client(tenant) as client:
        resp = _job(client, lane="auto", deadline="2027-01-01T09:00:00")
    error = assert_json_error(resp, 422)["error"]
    assert error["type"] == "invalid_request"
    assert "deadline" in error["message"]


def test_a_past_deadline_is_a_json_422(live: LiveStack, tenant: Tenant) -> None:
    with live.client(tenant) as client:
        resp = _job(client, lane="realtime", deadline=_in(-1).isoformat())
    assert assert_json_error(resp, 422)["error"]["type"] == "deadline_passed"


def test_the_batch_lane_with_a_deadline_too_near_is_a_json_422_naming_the_hours(
    live: LiveStack, tenant: Tenant
) -> None:
    with live.client(tenant) as client:
        resp = _job(client, lane="batch", deadline=_in(3).isoformat())
    error = assert_json_error(resp, 422)["error"]
    assert error["type"] == "deadline_too_soon"
    assert "at least 26 h" in error["message"]


def _batch_jobs(client: httpx.Client, batch_id: str) -> list[dict[str, Any]]:
    page = client.get("/v1/jobs", params={"batch_id": batch_id, "limit": 100})
    assert page.status_code == 200, page.text
    items: list[dict[str, Any]] = page.json()["items"]
    return items


def test_a_json_batch_headers_lane_and_deadline_reach_every_job(
    live: LiveStack, tenant: Tenant
) -> None:
    deadline = _in(48)
    docs = [{"text": f"Memo {uuid.uuid4().hex} number {i}."} for i in range(3)]
    body = {
        "schema": "document_summary",
        "tier": "low",
        "lane": "batch",
        "deadline": deadline.isoformat(),
        "documents": docs,
    }
    with live.client(tenant) as client:
        created = client.post("/v1/batches", json=body)
        assert created.status_code == 202, created.text
        batch_id = created.json()["id"]
        batch = client.get(f"/v1/batches/{batch_id}").json()
        jobs = _batch_jobs(client, batch_id)
    assert batch["lane"] == "batch"
    assert len(jobs) == 3
    for job in jobs:
        assert (job["lane"], job["lane_reason"]) == ("batch", "requested")
        assert dt.datetime.fromisoformat(job["deadline"]) == deadline
        assert _stored(live, job["id"]) == ("batch", "requested", deadline)


def test_an_ndjson_header_with_auto_and_a_near_deadline_makes_every_job_realtime(
    live: LiveStack, tenant: Tenant
) -> None:
    deadline = _in(1)
    header = {"schema": "document_summary", "tier": "low", "lane": "auto"}
    lines = [{**header, "deadline": deadline.isoformat()}]
    lines += [{"text": f"Memo {uuid.uuid4().hex} number {i}."} for i in range(2)]
    with live.client(tenant) as client:
        created = client.post(
            "/v1/batches",
            content="\n".join(json.dumps(line) for line in lines) + "\n",
            headers={"content-type": "application/x-ndjson"},
        )
        assert created.status_code == 202, created.text
        batch_id = created.json()["id"]
        batch = client.get(f"/v1/batches/{batch_id}").json()
        jobs = _batch_jobs(client, batch_id)
    assert batch["lane"] == "auto"  # as asked; each job holds what auto chose
    assert len(jobs) == 2
    for job in jobs:
        assert job["lane"] == "realtime"
        assert job["lane_reason"] == f"auto: deadline in 1.0 h is sooner than {WINDOW}"
        assert dt.datetime.fromisoformat(job["deadline"]) == deadline


def test_the_batch_lane_with_a_too_near_deadline_refuses_the_whole_batch(
    live: LiveStack, tenant: Tenant
) -> None:
    body = {
        "schema": "document_summary",
        "lane": "batch",
        "deadline": _in(2).isoformat(),
        "documents": [{"text": "A memo that is never stored."}],
    }
    with live.client(tenant) as client:
        resp = client.post("/v1/batches", json=body)
    assert assert_json_error(resp, 422)["error"]["type"] == "deadline_too_soon"


def test_the_client_sends_a_duration_deadline_as_rfc_3339_from_now(
    live: LiveStack, tenant: Tenant
) -> None:
    before = dt.datetime.now(dt.UTC)
    with Client(live.api_url, tenant.api_key, max_retries=3) as dq:
        batch = dq.submit_batch(
            [f"Memo {uuid.uuid4().hex}."], schema="document_summary", lane="auto", deadline="2d"
        )
        [job] = list(dq.list_jobs(batch_id=batch["id"]))
        assert BatchSummary.from_api(dq.get_batch(batch["id"])).lane == "auto"
    assert (job["lane"], job["lane_reason"]) == (
        "batch",
        f"auto: deadline in 48.0 h leaves {WINDOW}",
    )
    when = dt.datetime.fromisoformat(job["deadline"])
    assert before + dt.timedelta(days=2) <= when <= dt.datetime.now(dt.UTC) + dt.timedelta(days=2)
