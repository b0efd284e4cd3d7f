"""Flower behind basic auth, watching a real worker: its queues, and tasks carrying only ids."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from scripts.devstack.ports import free_port
from tests.support.stacks import LiveStack, StackFactory
from tests.support.waits import wait_for, wait_job

pytestmark = pytest.mark.e2e

AUTH = ("ops", "flower-test-pw")
MARKER = "Quetzal-lantern-4417"


@pytest.fixture(scope="module")
def watched(stack_factory: StackFactory) -> Iterator[tuple[LiveStack, str]]:
    stack = stack_factory(name="flower")
    url = stack.stack.flower(port=free_port(), basic_auth=":".join(AUTH))
    yield stack, url
    stack.close()


def _get(url: str, auth: tuple[str, str] | None = AUTH) -> httpx.Response:
    return httpx.get(url, auth=auth, timeout=10)


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

    def task() -> dict[str, Any] | None:
        tasks: dict[str, Any] = _get(f"{url}/api/tasks?taskname=docqueue.extract").json()
        mine = [t for t in tasks.values() if job["id"] in str(t.get("args"))]
        return mine[0] if mine and mine[0].get("state") == "SUCCESS" else None

    found = wait_for(task, timeout=30, every=0.5)
    assert found["args"] in (f"['{job['id']}']", f"('{job['id']}',)")
    assert found["kwargs"] in ("{}", None)
    everything = _get(f"{url}/api/tasks").text
    assert MARKER not in everything
