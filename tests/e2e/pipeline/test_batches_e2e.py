"""Batches end to end: real API, Celery workers, scheduler, Postgres, Redis and the simulator."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import redis
from sqlalchemy import func, select

from storage.models import Batch, Job
from tasks.flow.killswitch import RedisKillSwitch
from tests.support.stacks import LiveStack, StackFactory, WorkerSpec
from tests.support.tenants import Tenant
from tests.support.waits import wait_for

pytestmark = pytest.mark.e2e

STATUSES = {"queued", "running", "succeeded", "failed", "cancelled"}
BIG = 500  # a batch large enough to page results and interleave with other work
MEMO = "Memo {tag}-{i}: the quarterly report is due on 2026-03-{day:02d}. Owner: team {i}."


@pytest.fixture(scope="module")
def stack(stack_factory: StackFactory) -> Iterator[LiveStack]:
    """An isolated stack: two workers of 32 threads each, an instant simulator."""
    live = stack_factory(
        name="batches",
        workers=[WorkerSpec("w1", concurrency=32), WorkerSpec("w2", concurrency=32)],
        sim_latency_ms=0,
    )
    yield live
    live.close()


@pytest.fixture(scope="module")
def tenant(stack: LiveStack) -> Tenant:
    """The tenant these tests submit as (high caps: the caps are not under test)."""
    return stack.tenant("batcher", concurrency=128)


def docs(n: int, tag: str, extra: str = "") -> list[dict[str, Any]]:
    """`n` distinct short documents keyed `{tag}-{i}`, each with its index as metadata."""
    return [
        {
            "text": MEMO.format(tag=tag, i=i, day=i % 28 + 1) + extra,
            "filename": f"{tag}/memo-{i}.txt",
            "key": f"{tag}-{i}",
            "metadata": {"i": i, "tag": tag},
        }
        for i in range(n)
    ]


def summary(client: httpx.Client, batch_id: str) -> dict[str, Any]:
    """GET the batch, checking the counts name all five statuses and add up to the total."""
    resp = client.get(f"/v1/batches/{batch_id}")
    assert resp.status_code == 200, resp.text
    body: dict[str, Any] = resp.json()
    assert set(body["counts"]) == STATUSES
    assert sum(body["counts"].values()) == body["total"], body
    return body


def wait_finished(client: httpx.Client, batch_id: str, timeout: float = 120) -> dict[str, Any]:
    """Poll until `finished_at` is set (every poll checks the counts add up)."""
    return dict(
        wait_for(lambda: (b := summary(client, batch_id))["finished_at"] and b, timeout=timeout)
    )


def results(client: httpx.Client, batch_id: str) -> list[dict[str, Any]]:
    """Every NDJSON line of the batch's results."""
    with client.stream("GET", f"/v1/batches/{batch_id}/results") as resp:
        assert resp.status_code == 200
        assert resp.headers["content-type"].startswith("application/x-ndjson")
        return [json.loads(line) for line in resp.iter_lines() if line]


@pytest.mark.faults  # slow: `make test-faults`
def test_a_large_batch_finishes_with_counts_adding_up_and_one_result_line_each(
    stack: LiveStack, tenant: Tenant
) -> None:
    batch = docs(BIG, "big")  # 2,000 run in tests/e2e/pipeline/test_stock_postgres.py
    with stack.client(tenant) as client:
        started = time.perf_counter()
        resp = client.post(
            "/v1/batches", json={"schema": "document_summary", "tier": "low", "documents": batch}
        )
        took = time.perf_counter() - started
        assert resp.status_code == 202, resp.text
        accepted = resp.json()
        assert (accepted["total"], accepted["created"], accepted["duplicates"]) == (BIG, BIG, 0)
        print(f"enqueued {BIG} documents in {took:.2f} s ({BIG / took:,.0f} docs/s)")
        polls = []
        while not (state := summary(client, accepted["id"]))["finished_at"]:
            polls.append(state["progress"])
            assert time.perf_counter() - started < 240, state
            time.sleep(0.2)
        assert state["counts"]["succeeded"] == BIG, state
        assert state["progress"] == 1.0
        assert state["usage"]["input_tokens"] > 0
        assert float(state["usage"]["cost_usd"]) > 0
        assert polls == sorted(polls)  # progress never goes backwards
        lines = results(client, accepted["id"])
        # Re-sending the same documents creates nothing: the keys already have jobs.
        again = client.post("/v1/batches", json={"schema": "document_summary", "documents": batch})
    assert len(lines) == BIG
    assert sorted(line["key"] for line in lines) == sorted(d["key"] for d in batch)
    for line in lines:
        assert line["metadata"] == {"i": int(line["key"].split("-")[1]), "tag": "big"}
        assert line["status"] == "succeeded"
        assert line["result"]
        assert line["error"] is None
        assert line["filename"] == f"big/memo-{line['metadata']['i']}.txt"
        assert line["usage"]["input_tokens"] > 0
    assert again.status_code == 202, again.text
    assert (again.json()["created"], again.json()["duplicates"]) == (0, BIG)
    assert again.json()["duplicate_batches"] == [accepted["id"]]
    with stack.session() as session:
        jobs = session.scalar(
            select(func.count()).where(
                Job.tenant_id == uuid.UUID(tenant.id), Job.idempotency_key.like("doc:big-%")
            )
        )
    assert jobs == BIG


def test_cancel_stops_jobs_that_have_not_started_and_retry_runs_them(
    stack: LiveStack, tenant: Tenant
) -> None:
    switch = RedisKillSwitch(redis.Redis.from_url(stack.redis_url))
    switch.set(True, reason="test: nothing may start")
    time.sleep(1.0)  # past the 0.5 s for which the scheduler and workers cache the switch
    try:
        with stack.client(tenant) as client:
            accepted = client.post(
                "/v1/batches", json={"schema": "document_summary", "documents": docs(50, "stop")}
            ).json()
            time.sleep(0.5)  # the scheduler would have dispatched by now if it could
            cancelled = client.post(f"/v1/batches/{accepted['id']}/cancel")
            assert cancelled.status_code == 200, cancelled.text
            body = cancelled.json()
            assert body["counts"]["cancelled"] == 50, body
            assert body["finished_at"]
            assert body["cancelled_at"]
            errors = {(r["status"], r["error"]["type"]) for r in results(client, accepted["id"])}
            assert errors == {("cancelled", "cancelled")}
    finally:
        switch.set(False)
    with stack.client(tenant) as client:
        time.sleep(1.0)  # dispatch runs again: a cancelled job must still never start
        assert summary(client, accepted["id"])["counts"]["cancelled"] == 50
        with stack.session() as session:
            started = session.scalar(
                select(func.count()).where(
                    Job.batch_id == uuid.UUID(accepted["id"]), Job.started_at.isnot(None)
                )
            )
        assert started == 0
        retried = client.post(f"/v1/batches/{accepted['id']}/retry").json()
        assert retried["finished_at"] is None
        assert retried["counts"]["cancelled"] == 0
        done = wait_finished(client, accepted["id"])
    assert done["counts"]["succeeded"] == 50, done


def test_failed_jobs_retry_and_succeed_while_unreadable_documents_stay_failed(
    stack: LiveStack, tenant: Tenant
) -> None:
    # Both models of the low tier answer 400 once each, then the simulator recovers.
    flaky = docs(20, "flaky", extra=" [[sim:status=400]] [[sim:fail_times=2]]")
    empty = {"text": "   ", "filename": "empty.txt", "key": "flaky-empty", "metadata": {}}
    with stack.client(tenant) as client:
        accepted = client.post(
            "/v1/batches",
            json={"schema": "document_summary", "tier": "low", "documents": [*flaky, empty]},
        ).json()
        failed = wait_finished(client, accepted["id"])
        assert failed["counts"]["failed"] == 21, failed
        kinds = {r["key"]: r["error"]["type"] for r in results(client, accepted["id"])}
        assert kinds.pop("flaky-empty") == "document_invalid"
        assert set(kinds.values()) == {"provider_error"}
        retried = client.post(f"/v1/batches/{accepted['id']}/retry")
        assert retried.status_code == 200
        assert retried.json()["counts"]["failed"] == 1  # the empty document stays failed
        done = wait_finished(client, accepted["id"])
    assert (done["counts"]["succeeded"], done["counts"]["failed"]) == (20, 1), done


def test_retrying_one_job_that_has_no_document_text_is_refused_and_calls_no_model(
    stack: LiveStack, tenant: Tenant
) -> None:
    empty = {"text": "   ", "filename": "blank.txt", "key": "blank", "metadata": {}}
    with stack.client(tenant) as client:
        batch = client.post(
            "/v1/batches", json={"schema": "document_summary", "documents": [empty]}
        ).json()
        wait_finished(client, batch["id"])
        (line,) = results(client, batch["id"])
        answer = client.post(f"/v1/jobs/{line['id']}/retry")
        assert answer.status_code == 409, answer.text
        assert answer.json()["error"]["type"] == "invalid_state"
        assert "no stored document text" in answer.json()["error"]["message"]
        job = client.get(f"/v1/jobs/{line['id']}").json()
    assert (job["status"], job["error"]["type"]) == ("failed", "document_invalid")


def test_another_tenants_batch_answers_404_everywhere(stack: LiveStack, tenant: Tenant) -> None:
    with stack.client(tenant) as client:
        batch_id = client.post(
            "/v1/batches", json={"schema": "document_summary", "documents": docs(2, "mine")}
        ).json()["id"]
    with stack.client(stack.bob) as bob:
        answers = [
            bob.get(f"/v1/batches/{batch_id}"),
            bob.get(f"/v1/batches/{batch_id}/results"),
            bob.post(f"/v1/batches/{batch_id}/cancel"),
            bob.post(f"/v1/batches/{batch_id}/retry"),
            bob.get(f"/v1/batches/{uuid.uuid4()}"),
        ]
    for resp in answers:
        assert resp.status_code == 404, resp.text
        assert resp.json()["error"]["type"] == "not_found"


def ndjson(header: dict[str, Any], lines: list[Any]) -> Iterator[bytes]:
    """A chunked body: the header line, then one line per item (str items are sent raw)."""
    yield json.dumps(header).encode() + b"\n"
    for item in lines:
        yield (item if isinstance(item, str) else json.dumps(item)).encode() + b"\n"


def test_ndjson_stream_of_a_thousand_documents_reports_bad_lines_and_resumes_by_key(
    stack: LiveStack, tenant: Tenant
) -> None:
    items: list[Any] = docs(1000, "stream")
    items.insert(10, "{not json")  # line 12 (the header is line 1)
    items.insert(700, {"text": "both", "content_base64": "Ym90aA=="})  # line 702
    header = {"schema": "document_summary", "tier": "low"}
    key = {"content-type": "application/x-ndjson", "Idempotency-Key": f"nd-{uuid.uuid4()}"}
    with stack.client(tenant) as client:
        first = client.post("/v1/batches", content=ndjson(header, items[:600]), headers=key)
        assert first.status_code == 202, first.text
        # The same Idempotency-Key resumes the same batch: only the rest is created.
        resp = client.post("/v1/batches", content=ndjson(header, items), headers=key)
        assert resp.status_code == 202, resp.text
        body = resp.json()
        state = summary(client, body["id"])
        lines = results(client, body["id"])  # whatever their status: all 1,000 are there
    assert first.json()["created"] == 599
    assert first.json()["rejected"] == 1
    assert body["id"] == first.json()["id"]
    assert (body["total"], body["created"], body["duplicates"]) == (1000, 401, 599)
    assert body["rejected"] == 2
    assert [r["line"] for r in body["rejected_lines"]] == [12, 702]
    assert state["total"] == 1000
    assert len({r["key"] for r in lines}) == len(lines) == 1000


@pytest.mark.parametrize(
    ("content", "ctype", "where"),
    [
        (b'{"schema": "document_summary", "documents": [{"text": "a"}, {"filename": "x"}]}',
         "application/json", "documents.1"),
        (b'{"schema": "document_summary"\n{"text": "a"}\n', "application/x-ndjson", "line 1"),
        (b'{"schema": "document_summary"}\n{"nope": 1}\n', "application/x-ndjson", "line 2"),
    ],
)  # fmt: skip
def test_malformed_request_is_422_and_stores_nothing(
    stack: LiveStack, tenant: Tenant, content: bytes, ctype: str, where: str
) -> None:
    with stack.session() as session:
        before = session.scalar(select(func.count()).select_from(Batch))
    with stack.client(tenant) as client:
        resp = client.post("/v1/batches", content=content, headers={"content-type": ctype})
    assert resp.status_code == 422, resp.text
    assert where in resp.json()["error"]["message"]
    with stack.session() as session:
        assert session.scalar(select(func.count()).select_from(Batch)) == before
