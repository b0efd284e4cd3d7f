"""The kill switch as GET /v1/batches shows it: on with its reason, off again, null if unread."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

import httpx
import pytest

from api.killswitch import read_killswitch
from scripts.devstack.ports import free_port
from tests.support.flow import cli
from tests.support.stacks import LiveStack
from tests.support.waits import wait_for

pytestmark = pytest.mark.e2e


def batch(client: httpx.Client, batch_id: str) -> dict[str, Any]:
    """GET /v1/batches/{id}."""
    resp = client.get(f"/v1/batches/{batch_id}")
    assert resp.status_code == 200, resp.text
    body: dict[str, Any] = resp.json()
    return body


def test_a_batch_shows_the_kill_switch_on_while_it_waits_queued_and_off_again(
    live: LiveStack,
) -> None:
    tenant = live.tenant("switched")
    body = {"schema": "document_summary", "tier": "low", "documents": [{"text": "Memo: hold."}]}
    try:
        assert cli(live, "killswitch", "on")["on"] is True
        turned_on = dt.datetime.now(dt.UTC)
        time.sleep(1.0)  # the scheduler and the workers cache the switch for up to 0.5 s
        with live.client(tenant) as client:
            resp = client.post("/v1/batches", json=body)
            assert resp.status_code == 202, resp.text
            batch_id = resp.json()["id"]
            held = batch(client, batch_id)
            page = client.get("/v1/batches", params={"status": "queued"}).json()
    finally:
        assert cli(live, "killswitch", "off")["on"] is False
    with live.client(tenant) as client:
        resumed = batch(client, batch_id)
        done = wait_for(lambda: (b := batch(client, batch_id))["status"] == "finished" and b)
    switch = held["killswitch"]
    assert (switch["on"], switch["reason"]) == (True, "cli")
    since = dt.datetime.fromisoformat(switch["since"])
    assert abs(since - turned_on) < dt.timedelta(seconds=30)
    assert held["status"] == "queued"
    assert [item["id"] for item in page["data"]] == [batch_id]
    assert page["data"][0]["killswitch"] == switch  # read once, the same for the page
    assert resumed["killswitch"] == {"on": False, "reason": None, "since": None}
    assert done["counts"]["succeeded"] == 1


def test_the_kill_switch_reads_as_null_when_redis_does_not_answer() -> None:
    assert read_killswitch(f"redis://127.0.0.1:{free_port()}/0") is None
