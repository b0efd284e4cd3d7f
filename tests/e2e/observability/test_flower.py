"""Flower behind basic auth, watching a real worker: its queues, and tasks carrying only ids."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import redis
from sqlalchemy import func, select

from scripts.devstack.ports import free_port
from storage.models import LlmCall
from tests.support.stacks import LiveStack, StackFactory
from tests.support.waits import wait_for, wait_job

pytestmark = pytest.mark.e2e

AUTH = ("ops", "flower-test-pw")
MARKER = "Quetzal-lantern-4417"
FAILING_MARKER = "Okapi-harbour-2093"  # only the failing job's document holds it


@pytest.fixture(scope="module")
def watched(stack_factory: StackFactory) -> Iterator[tuple[LiveStack, str]]:
    stack = stack_factory(name="flower")
    url = stack.stack.flower(port=free_port(), basic_auth=":".join(AUTH))
    yield stack, url
    stack.close()


def _get(url: str, auth: tuple[str, str] | None = AUTH) -> httpx.Response:
    return httpx.get(url, auth=auth, timeout=10)


def _task(url: str, job_id: str, state: str) -> dict[str, Any] | None:
    """Flower's extraction task for `job_id`, once it shows `state`."""
    tasks: dict[str, Any] = _get(f"{url}/api/tasks?taskname=docqueue.extract").json()
    mine = [t for t in tasks.values() if job_id in str(t.get("args"))]
    return mine[0] if mine and mine[0].get("state") == state else None


def test_flower_refuses_requests_without_basic_auth(watched: tuple[LiveStack, str]) -> None:
    _, url = watched
    assert _get(f"{url}/api/workers", auth=None).status_code == 401
    assert _get(f"{url}/api/workers", auth=("ops", "wrong")).status_code == 401


def test_flower_lists_the_worker_with_its_tier_queues(watched: tuple[LiveStack, str]) -> None:
    _, url = watched

    def worker() -> dict[str, Any] | None:
        workers: dict[str, Any] = _get(f"{url}/api/workers?refresh=1").json()
        found = [v for k, v in workers.items() if k.startswith("worker1@")]
        return found[0] if found and found[0].get("active_queues") else None

    info = wait_for(worker, timeout=45, every=1.0)
    queues = {q["name"] for q in info["active_queues"]}
    # webhooks have their own consumer (`docqueue webhooks`), which tier workers leave alone
    assert queues == {"docqueue.low", "docqueue.medium", "docqueue.high"}


def test_flower_shows_the_task_with_only_the_job_id_as_argument(
    watched: tuple[LiveStack, str],
) -> None:
    live, url = watched
    with live.client() as client:
        created = client.post(
            "/v1/jobs",
            json={"schema": "document_summary", "tier": "low", "text": f"Memo {MARKER}."},
        )
        assert created.status_code == 202, created.text
        job = wait_job(client, created.json()["id"])
    assert job["status"] == "succeeded"

    found = wait_for(lambda: _task(url, job["id"], "SUCCESS"), timeout=30, every=0.5)
    assert found["args"] in (f"['{job['id']}']", f"('{job['id']}',)")
    assert found["kwargs"] in ("{}", None)
    everything = _get(f"{url}/api/tasks").text
    assert MARKER not in everything


def test_a_failed_job_shows_as_failed_in_flower_and_is_processed_once(
    watched: tuple[LiveStack, str],
) -> None:
    live, url = watched
    with live.client() as client:
        created = client.post(
            "/v1/jobs",
            json={
                "schema": "invoice",
                "tier": "low",
                # every answer fails validation: the worker fails the job once re-asks run out
                "text": f"Invoice {FAILING_MARKER}, total 10 EUR.\n[[sim:invalid]]",
            },
        )
        assert created.status_code == 202, created.text
        job = wait_job(client, created.json()["id"])
    assert (job["status"], job["error"]["type"]) == ("failed", "validation_failed")

    found = wait_for(lambda: _task(url, job["id"], "FAILURE"), timeout=30, every=0.5)
    # the failure names the job and its error type, nothing of the document
    assert found["exception"] == f"JobFailed('{job['id']}', 'validation_failed')"
    assert found["retries"] == 0
    everything = _get(f"{url}/api/tasks").text
    assert FAILING_MARKER not in everything
    # processed once: one attempt, whose calls are the first try and the low tier's re-ask
    assert job["attempts"] == 1
    with live.session() as session:
        calls = session.scalar(select(func.count()).where(LlmCall.job_id == job["id"]))
    assert calls == 2
    # and acknowledged: no copy waits in kombu's `unacked` hash to be redelivered
    broker = redis.Redis.from_url(live.redis_url)
    try:
        held = [v for v in broker.hvals("unacked") if job["id"].encode() in v]
    finally:
        broker.close()
    assert held == []
    assert _task(url, job["id"], "FAILURE") is not None  # not received again since
