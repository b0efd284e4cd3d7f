"""scripts.client.Client against the shared live stack, as a program using the client would.

Submit, wait, results, list, cancel, retry, usage, jobs and typed errors.
"""

from __future__ import annotations

import datetime as dt
import itertools
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from scripts.client import (
    AuthenticationError,
    BatchSummary,
    Client,
    ConflictError,
    NotFoundError,
    UnprocessableEntityError,
    WaitTimeoutError,
)
from tests.support.stacks import LiveStack
from tests.support.tenants import Tenant

pytestmark = pytest.mark.e2e

MEMO = "Memo {tag}-{i}: the Tromsø office closes on 2026-06-{day:02d}; desks move to floor {i}."
SLOW = " [[sim:latency_ms=1500]]"


def memos(n: int, *, slow: bool = False) -> list[str]:
    """`n` distinct memos (slow ones keep their provider call for 1.5 s)."""
    tag = uuid.uuid4().hex[:8]
    return [MEMO.format(tag=tag, i=i, day=i + 1) + (SLOW if slow else "") for i in range(n)]


@pytest.fixture(scope="module")
def tenant(live: LiveStack) -> Tenant:
    """A tenant of this module's own."""
    return live.tenant("client-e2e")


@pytest.fixture
def dq(live: LiveStack, tenant: Tenant) -> Iterator[Client]:
    """A client for the live API as `tenant`."""
    with Client(live.api_url, tenant.api_key, max_retries=3) as client:
        yield client


def test_a_submitted_batch_is_waited_for_with_rising_progress_then_its_results_stream(
    dq: Client,
) -> None:
    made = dq.submit_batch(memos(6), schema="document_summary", tier="low")
    assert (made["total"], made["created"]) == (6, 6)
    seen: list[BatchSummary] = []
    done = dq.wait_batch(
        made["id"], on_progress=lambda b: seen.append(BatchSummary.from_api(b)), timeout_s=120
    )
    assert done["finished_at"]
    assert seen, "on_progress was never called"
    assert [s.done for s in seen] == sorted(s.done for s in seen)  # never goes back
    assert seen[-1].done == seen[-1].total == 6
    assert seen[-1].counts["succeeded"] == 6
    assert (seen[-1].status, seen[-1].outcome) == ("finished", "succeeded")
    assert {s.status for s in seen} <= {"queued", "running", "finished"}
    lines = list(dq.results(made["id"]))
    assert len(lines) == 6
    assert {line["status"] for line in lines} == {"succeeded"}
    assert all(isinstance(line["result"], dict) for line in lines)
    jobs = list(dq.list_jobs(batch_id=made["id"], limit=4))  # two pages
    assert sorted(j["id"] for j in jobs) == sorted(line["id"] for line in lines)
    assert dq.get_job(jobs[0]["id"])["batch_id"] == made["id"]


def test_list_batches_pages_through_every_batch_and_filters_by_status_and_time(
    dq: Client,
) -> None:
    made = [dq.submit_batch(memos(1), schema="document_summary", tier="low") for _ in range(3)]
    ids = [m["id"] for m in made]
    for batch_id in ids:
        dq.wait_batch(batch_id, timeout_s=120)
    listed = [b["id"] for b in dq.list_batches(limit=1)]  # one batch per page
    assert set(ids) <= set(listed)
    assert len(listed) == len(set(listed))
    finished = {b["id"] for b in dq.list_batches(status="finished", limit=200)}
    assert set(ids) <= finished
    tomorrow = dt.datetime.now(dt.UTC) + dt.timedelta(days=1)
    assert list(dq.list_batches(created_after=tomorrow)) == []
    first_two = list(itertools.islice(dq.list_batches(limit=2), 2))
    assert [b["id"] for b in first_two] == listed[:2]
    assert all("counts" in b and "usage" in b for b in first_two)


def test_a_cancelled_batch_keeps_its_started_jobs_and_a_retry_runs_the_cancelled_ones(
    live: LiveStack,
) -> None:
    slow_tenant = live.tenant("client-cancel", concurrency=1)  # one job at a time: the rest wait
    with Client(live.api_url, slow_tenant.api_key) as dq:
        made = dq.submit_batch(memos(5, slow=True), schema="document_summary", tier="low")
        cancelled = dq.cancel_batch(made["id"])
        assert cancelled["cancelled_at"]
        assert cancelled["counts"]["cancelled"] >= 3
        after_cancel = dq.wait_batch(made["id"], timeout_s=60)
        counts = after_cancel["counts"]
        assert counts["succeeded"] + counts["cancelled"] == 5
        retried = dq.retry_batch(made["id"])
        assert retried["counts"]["cancelled"] == 0
        assert retried["finished_at"] is None
        final = dq.wait_batch(made["id"], timeout_s=120)
        assert final["counts"]["succeeded"] == 5


def test_waiting_past_the_timeout_raises_a_timeout_error_with_the_last_batch(
    live: LiveStack,
) -> None:
    slow_tenant = live.tenant("client-timeout", concurrency=1)
    with Client(live.api_url, slow_tenant.api_key) as dq:
        made = dq.submit_batch(memos(3, slow=True), schema="document_summary", tier="low")
        with pytest.raises(WaitTimeoutError) as caught:
            dq.wait_batch(made["id"], timeout_s=0.5)
        assert isinstance(caught.value, TimeoutError)
        assert caught.value.last["id"] == made["id"]
        dq.cancel_batch(made["id"])


def test_usage_reports_the_calls_the_batches_made_with_totals_and_the_budget(
    dq: Client,
) -> None:
    made = dq.submit_batch(memos(2), schema="document_summary", tier="low")
    dq.wait_batch(made["id"], timeout_s=120)
    today = dt.datetime.now(dt.UTC).date()
    report = dq.usage(since=today, until=today)
    assert report["by_day"], report
    assert all(line["day"] == today.isoformat() for line in report["by_day"])
    assert report["totals"]["calls"] >= 2
    assert float(report["totals"]["cost_usd"]) > 0
    assert float(report["budget"]["monthly_budget_usd"]) == 1000.0


def test_the_catalogue_and_a_single_job_go_through_the_same_client(dq: Client) -> None:
    assert "invoice" in {s["name"] for s in dq.schemas()}
    assert "invoice" in {e["name"] for e in dq.extractors()}
    job = dq.create_job({"schema": "document_summary", "tier": "low", "text": memos(1)[0]})
    assert job["status"] in ("queued", "running", "succeeded")
    assert dq.get_job(job["id"])["id"] == job["id"]


def test_retrying_a_job_that_did_not_fail_is_a_conflict_the_client_does_not_hide(
    dq: Client,
) -> None:
    made = dq.submit_batch(memos(1), schema="document_summary", tier="low")
    dq.wait_batch(made["id"], timeout_s=120)
    (job,) = dq.list_jobs(batch_id=made["id"])
    with pytest.raises(ConflictError) as refused:
        dq.retry_job(job["id"])  # what a re-send after a lost answer would meet
    assert (refused.value.status, refused.value.type) == (409, "invalid_state")
    assert refused.value.after_lost_answer is False  # one try: the 409 is this call's own


def test_the_apis_errors_arrive_typed_with_their_status_and_error_object(
    live: LiveStack, dq: Client
) -> None:
    with pytest.raises(NotFoundError) as missing:
        dq.get_batch(str(uuid.uuid4()))
    assert (missing.value.status, missing.value.type) == (404, "not_found")
    bad: dict[str, Any] = {"type": "object", "properties": {"a": {"oneOf": []}}}
    with pytest.raises(UnprocessableEntityError) as refused:
        dq.create_extractor({"name": "bad", "description": "x", "json_schema": bad})
    assert refused.value.type == "schema_invalid"
    assert refused.value.detail["pointer"].startswith("/properties/a")
    wrong = "dq_00000000_" + "x" * 32
    with Client(live.api_url, wrong) as stranger, pytest.raises(AuthenticationError) as denied:
        stranger.get_batch(str(uuid.uuid4()))
    assert wrong not in str(denied.value) + repr(denied.value)
