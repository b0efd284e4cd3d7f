"""GET /v1/batches on the shared stack: newest first in keyset pages, filters, counts, tenants."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from tests.e2e.api.json_errors import assert_json_error
from tests.support.stacks import LiveStack
from tests.support.tenants import Tenant
from tests.support.waits import wait_for

pytestmark = pytest.mark.e2e

SIZES = (1, 2, 3, 1, 2)  # documents per batch, oldest first
MEMO = "Memo {b}-{i}: the Bergen office closes on 2026-05-{day:02d}; move desks to floor {i}."


def submit(client: httpx.Client, tag: str, docs: list[str]) -> str:
    """POST one batch of low-tier documents keyed `{tag}-{i}`; its id."""
    body = {
        "schema": "document_summary",
        "tier": "low",
        "documents": [{"text": text, "key": f"{tag}-{i}"} for i, text in enumerate(docs)],
    }
    resp = client.post("/v1/batches", json=body)
    assert resp.status_code == 202, resp.text
    batch_id: str = resp.json()["id"]
    return batch_id


def batch(client: httpx.Client, batch_id: str) -> dict[str, Any]:
    """GET /v1/batches/{id}."""
    resp = client.get(f"/v1/batches/{batch_id}")
    assert resp.status_code == 200, resp.text
    body: dict[str, Any] = resp.json()
    return body


def listing(client: httpx.Client, **params: Any) -> dict[str, Any]:
    """One page of GET /v1/batches."""
    resp = client.get("/v1/batches", params=params)
    assert resp.status_code == 200, resp.text
    body: dict[str, Any] = resp.json()
    assert set(body) == {"data", "next_cursor"}
    return body


def ids(page: dict[str, Any]) -> list[str]:
    """The batch ids of a page, in its order."""
    return [item["id"] for item in page["data"]]


@pytest.fixture(scope="module")
def lister(live: LiveStack) -> tuple[Tenant, list[str]]:
    """A tenant with five finished batches of SIZES documents (ids oldest first)."""
    tenant = live.tenant("lister")
    with live.client(tenant) as client:
        made = [
            submit(client, f"l{b}", [MEMO.format(b=b, i=i, day=b + 1) for i in range(n)])
            for b, n in enumerate(SIZES)
        ]
        wait_for(lambda: all(batch(client, b)["status"] == "finished" for b in made), timeout=90)
    return tenant, made


def test_pages_list_every_batch_once_newest_first(
    live: LiveStack, lister: tuple[Tenant, list[str]]
) -> None:
    tenant, made = lister
    seen: list[str] = []
    sizes = []
    with live.client(tenant) as client:
        params: dict[str, Any] = {"limit": 2}
        for _ in range(10):
            page = listing(client, **params)
            seen += ids(page)
            sizes.append(len(page["data"]))
            if page["next_cursor"] is None:
                break
            params["cursor"] = page["next_cursor"]
        whole = listing(client)
    assert sizes == [2, 2, 1]
    assert seen == list(reversed(made))  # no duplicates, no gaps, newest first
    assert ids(whole) == seen
    assert whole["next_cursor"] is None


def test_each_listed_batch_is_what_get_batch_answers_with_its_counts(
    live: LiveStack, lister: tuple[Tenant, list[str]]
) -> None:
    tenant, made = lister
    with live.client(tenant) as client:
        items = listing(client)["data"]
        single = {batch_id: batch(client, batch_id) for batch_id in made}
    assert len(items) == len(made)
    for item in items:
        assert item == single[item["id"]]
    by_id = {item["id"]: item for item in items}
    for batch_id, size in zip(made, SIZES, strict=True):
        item = by_id[batch_id]
        assert item["status"] == "finished"
        assert item["total"] == size
        assert item["counts"] == {
            "queued": 0,
            "running": 0,
            "succeeded": size,
            "failed": 0,
            "cancelled": 0,
        }
        assert item["progress"] == 1.0
        assert float(item["usage"]["cost_usd"]) > 0
        assert item["finished_at"]
        assert item["killswitch"] == {"on": False, "reason": None, "since": None}


def test_created_after_and_before_are_exclusive_bounds(
    live: LiveStack, lister: tuple[Tenant, list[str]]
) -> None:
    tenant, made = lister
    with live.client(tenant) as client:
        created = {item["id"]: item["created_at"] for item in listing(client)["data"]}
        after = listing(client, created_after=created[made[1]])
        before = listing(client, created_before=created[made[1]])
        between = listing(client, created_after=created[made[0]], created_before=created[made[3]])
    assert ids(after) == list(reversed(made[2:]))
    assert ids(before) == [made[0]]
    assert ids(between) == [made[2], made[1]]


def test_the_status_filter_follows_a_batch_from_running_to_finished_and_cancelled(
    live: LiveStack,
) -> None:
    tenant = live.tenant("lifecycle")
    with live.client(tenant) as client:
        slow = submit(client, "slow", ["Memo: the long one. [[sim:latency_ms=4000]]"])
        wait_for(lambda: batch(client, slow)["status"] == "running", timeout=60, every=0.1)
        running = ids(listing(client, status="running"))
        queued = ids(listing(client, status="queued"))
        wait_for(lambda: batch(client, slow)["status"] == "finished", timeout=60)
        finished = ids(listing(client, status="finished"))
        gone = submit(client, "gone", [MEMO.format(b=9, i=i, day=9) for i in range(3)])
        cancelled = client.post(f"/v1/batches/{gone}/cancel")
        assert cancelled.status_code == 200, cancelled.text
        assert cancelled.json()["status"] == "cancelled"
        after_cancel = {s: ids(listing(client, status=s)) for s in ("cancelled", "finished")}
    assert (running, queued, finished) == ([slow], [], [slow])
    assert after_cancel == {"cancelled": [gone], "finished": [slow]}


@pytest.mark.parametrize(
    ("params", "error_type"),
    [
        ({"status": "done"}, "invalid_request"),
        ({"created_after": "yesterday"}, "invalid_request"),
        ({"created_after": "2026-01-01T00:00:00"}, "invalid_request"),  # no offset
        ({"created_before": "1767225600"}, "invalid_request"),  # epoch seconds are not RFC 3339
        ({"created_before": "2026-02-30T00:00:00Z"}, "invalid_request"),
        (
            {"created_after": "2026-02-01T00:00:00Z", "created_before": "2026-01-01T00:00:00Z"},
            "invalid_range",
        ),
        ({"cursor": "not-a-cursor"}, "invalid_cursor"),
        ({"cursor": "WyJ5ZXN0ZXJkYXkiLCAiMSJd"}, "invalid_cursor"),  # base64 JSON, wrong inside
        # decodable, but the id is a number, then a list: not a 500
        ({"cursor": "WyIyMDI2LTAxLTAxVDAwOjAwOjAwKzAwOjAwIiwgNV0="}, "invalid_cursor"),
        ({"cursor": "WyIyMDI2LTAxLTAxVDAwOjAwOjAwKzAwOjAwIiwgWzFdXQ=="}, "invalid_cursor"),
        ({"limit": 0}, "invalid_request"),
        ({"limit": 201}, "invalid_request"),
    ],
)
def test_a_bad_listing_parameter_is_a_422_with_the_error_shape(
    live: LiveStack, params: dict[str, Any], error_type: str
) -> None:
    with live.client() as client:
        resp = client.get("/v1/batches", params=params)
    assert assert_json_error(resp, 422)["error"]["type"] == error_type


def test_another_tenant_never_sees_the_batches_not_even_with_their_cursor(
    live: LiveStack, lister: tuple[Tenant, list[str]]
) -> None:
    tenant, made = lister
    with live.client(tenant) as client:
        cursor = listing(client, limit=1)["next_cursor"]
    assert cursor
    stranger = live.tenant("stranger")
    with live.client(stranger) as client:
        empty = listing(client)
        paged = listing(client, cursor=cursor)
    with live.client(live.bob) as bob:
        theirs = {item["id"] for item in listing(bob, limit=200)["data"]}
    assert empty == {"data": [], "next_cursor": None}
    assert paged == {"data": [], "next_cursor": None}
    assert not theirs & set(made)


def test_result_lines_carry_the_tier_and_the_model_that_answered(
    live: LiveStack, lister: tuple[Tenant, list[str]]
) -> None:
    tenant, made = lister
    with live.client(tenant) as client:
        resp = client.get(f"/v1/batches/{made[2]}/results")
        assert resp.status_code == 200
        parsed = [json.loads(line) for line in resp.iter_lines() if line]
        jobs = {line["id"]: client.get(f"/v1/jobs/{line['id']}").json() for line in parsed}
    assert len(parsed) == SIZES[2]
    for line in parsed:
        assert line["tier"] == "low"
        assert line["model"]
        assert line["model"] == jobs[line["id"]]["model"]
        assert line["usage"]["cost_usd"] == jobs[line["id"]]["usage"]["cost_usd"]
        assert {"id", "key", "filename", "status", "result", "error", "metadata"} <= set(line)
