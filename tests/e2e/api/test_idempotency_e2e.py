"""Idempotency end to end: one job per Idempotency-Key, one provider call per job, reuse.

The stack here runs without a scheduler: the test is the only publisher, so it decides how
many times a job id is delivered to the (real) worker.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import httpx
import pytest
import redis
from sqlalchemy import func, select

from storage.models import Job, LlmCall
from tasks.celery.app import app
from tasks.dispatch.queues import TASK_NAME, queue_name
from tests.support.stacks import LiveStack, StackFactory, WorkerSpec
from tests.support.waits import wait_for, wait_job

pytestmark = pytest.mark.e2e

INVOICE = """ACME Tools GmbH, Hauptstrasse 1, Berlin. Invoice INV-2041 dated 2026-03-01.
Bill to: Globex Corp. 3 x hammer at 12.50 EUR, 2 x saw at 30.00 EUR. Payment due 2026-03-31."""


@pytest.fixture(scope="module")
def idem(stack_factory: StackFactory) -> Iterator[LiveStack]:
    """API, simulator and one worker, but no scheduler."""
    live = stack_factory(
        name="idem", scheduler=False, workers=[WorkerSpec(name="w1", tiers="low", concurrency=4)]
    )
    try:
        yield live
    finally:
        live.close()


def publish(live: LiveStack, job_id: str, *, times: int = 1) -> None:
    """Deliver a job id to the low tier's queue `times` times, as the scheduler would."""
    with app.connection_for_write(live.redis_url) as conn:
        app.amqp.queues[queue_name("low")].bind(conn.default_channel).declare()
        for _ in range(times):
            app.send_task(TASK_NAME, args=[job_id], queue=queue_name("low"), connection=conn)


def wait_drained(live: LiveStack) -> None:
    """Wait until every published message was consumed and acknowledged (acks are late)."""
    client = redis.Redis.from_url(live.redis_url)
    streak = 0

    def settled() -> bool:
        nonlocal streak
        # kombu keeps a delivered, unacknowledged message in the `unacked` hash
        idle = client.llen(queue_name("low")) == 0 and client.hlen("unacked") == 0
        streak = streak + 1 if idle else 0
        return streak >= 3  # a message moving from the list to the hash is never missed

    try:
        wait_for(settled, timeout=60, every=0.2)
    finally:
        client.close()


def ledger_rows(live: LiveStack, job_id: str) -> int:
    """Provider calls billed to the job."""
    with live.session() as session:
        return int(
            session.scalar(select(func.count()).where(LlmCall.job_id == uuid.UUID(job_id))) or 0
        )


def sim_requests(live: LiveStack) -> int:
    """Provider requests the simulator has served so far."""
    return int(live.sim("/sim/stats?samples=0")["requests"])


def test_twenty_concurrent_posts_with_one_idempotency_key_make_exactly_one_job(
    idem: LiveStack,
) -> None:
    key = f"order-{uuid.uuid4().hex}"
    body = {"schema": "invoice", "text": INVOICE, "tier": "low", "metadata": {"ref": key}}
    start = threading.Barrier(20)

    def post(_: int) -> httpx.Response:
        with idem.client() as client:
            start.wait(timeout=30)  # all twenty leave together
            return client.post("/v1/jobs", json=body, headers={"Idempotency-Key": key})

    with ThreadPoolExecutor(max_workers=20) as pool:
        answers = list(pool.map(post, range(20)))

    codes = sorted(r.status_code for r in answers)
    assert codes == [200] * 19 + [202], [r.text for r in answers if r.status_code >= 300]
    assert len({r.json()["id"] for r in answers}) == 1
    assert all(r.json()["metadata"] == {"ref": key} for r in answers)
    with idem.session() as session:
        rows = session.scalar(
            select(func.count()).select_from(Job).where(Job.idempotency_key == key)
        )
    assert rows == 1


def test_same_idempotency_key_with_a_different_body_is_409_with_json_error(
    idem: LiveStack,
) -> None:
    key = f"order-{uuid.uuid4().hex}"
    body = {"schema": "invoice", "text": INVOICE, "tier": "low"}
    with idem.client() as client:
        first = client.post("/v1/jobs", json=body, headers={"Idempotency-Key": key})
        other = client.post(
            "/v1/jobs",
            json={**body, "text": INVOICE + " Amended."},
            headers={"Idempotency-Key": key},
        )
        replay = client.post("/v1/jobs", json=body, headers={"Idempotency-Key": key})
    assert first.status_code == 202, first.text
    assert other.status_code == 409, other.text
    error = other.json()
    assert set(error) == {"error"}
    assert set(error["error"]) == {"type", "message"}
    assert error["error"]["type"] == "idempotency_conflict"
    assert error["error"]["message"]
    # the original request still replays to the original job
    assert replay.status_code == 200
    assert replay.json()["id"] == first.json()["id"]


def test_same_task_delivered_twice_makes_exactly_one_provider_call(idem: LiveStack) -> None:
    # a slow answer, so the second delivery arrives while the first is still running
    text = f"{INVOICE}\nReference {uuid.uuid4().hex}. [[sim:latency_ms=1500]]"
    with idem.client() as client:
        created = client.post("/v1/jobs", json={"schema": "invoice", "text": text, "tier": "low"})
        assert created.status_code == 202, created.text
        job_id = created.json()["id"]
        before = sim_requests(idem)
        publish(idem, job_id, times=2)  # the worker has threads free for both at once
        job = wait_job(client, job_id)
        wait_drained(idem)
        publish(idem, job_id)  # and a late redelivery, after the job finished
        wait_drained(idem)
        final = client.get(f"/v1/jobs/{job_id}").json()
    assert job["status"] == "succeeded", job
    assert sim_requests(idem) - before == 1
    assert ledger_rows(idem, job_id) == 1
    assert final["attempts"] == 1  # neither duplicate claimed the job
    assert final["finished_at"] == job["finished_at"]  # ...nor rewrote its outcome


def test_reuse_of_an_identical_document_is_a_cache_hit_with_no_cost_and_no_provider_call(
    idem: LiveStack,
) -> None:
    text = f"Board memo {uuid.uuid4().hex}. The quarterly security review is complete. " * 3
    with idem.client() as client:
        first = client.post(
            "/v1/jobs", json={"schema": "document_summary", "text": text, "tier": "low"}
        )
        assert first.status_code == 202, first.text
        publish(idem, first.json()["id"])
        original = wait_job(client, first.json()["id"])
        assert original["status"] == "succeeded", original
        assert Decimal(original["usage"]["cost_usd"]) > 0
        before = sim_requests(idem)

        second = client.post(
            "/v1/jobs",
            json={"schema": "document_summary", "text": text, "tier": "low", "reuse": True},
        )
        assert second.status_code == 202, second.text
        assert second.json()["id"] != original["id"]
        publish(idem, second.json()["id"])
        reused = wait_job(client, second.json()["id"])
    time.sleep(0.5)  # a provider call, if one were made, would have been counted by now
    assert reused["status"] == "succeeded", reused
    assert reused["cache_hit"] is True
    assert Decimal(reused["usage"]["cost_usd"]) == 0
    assert reused["usage"]["input_tokens"] == 0
    assert reused["result"] == original["result"]
    assert sim_requests(idem) == before
    assert ledger_rows(idem, reused["id"]) == 0
