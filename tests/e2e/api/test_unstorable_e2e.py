"""Input Postgres cannot store, or dates it cannot reach, is a 422 and the connection lives on."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.support.stacks import LiveStack

DOC = {"text": "A short memo about the quarter.", "filename": "memo.txt"}


def _nested(depth: int) -> dict[str, Any]:
    value: dict[str, Any] = {"leaf": 1}
    for _ in range(depth):
        value = {"n": value}
    return value


def _refused(client: httpx.Client, answer: httpx.Response, type_: str) -> None:
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"]["type"] == type_
    assert client.get("/v1/jobs").status_code == 200  # the same connection still works


@pytest.mark.parametrize("depth", [40, 300, 900])
def test_metadata_nested_too_deep_is_a_422_for_a_job_and_for_a_batch(
    live: LiveStack, depth: int
) -> None:
    tenant = live.tenant(f"deep-{depth}")
    with live.client(tenant) as client:
        job = client.post(
            "/v1/jobs",
            json={"schema": "document_summary", **DOC, "metadata": _nested(depth)},
        )
        _refused(client, job, "invalid_request")
        assert "nest deeper" in job.json()["error"]["message"]
        batch = client.post(
            "/v1/batches",
            json={
                "schema": "document_summary",
                "documents": [{**DOC, "key": "deep", "metadata": _nested(depth)}],
            },
        )
        _refused(client, batch, "invalid_request")


def test_metadata_at_a_sane_depth_is_accepted(live: LiveStack) -> None:
    with live.client(live.tenant("shallow")) as client:
        answer = client.post(
            "/v1/jobs", json={"schema": "document_summary", **DOC, "metadata": _nested(20)}
        )
    assert answer.status_code in (200, 201, 202), answer.text


@pytest.mark.parametrize(
    "query",
    [
        "since=9999-12-01&until=9999-12-31",
        "since=1000-01-01&until=1000-01-31",
        "until=9999-12-31",
    ],
)
def test_usage_dates_out_of_range_are_a_422_not_a_500(live: LiveStack, query: str) -> None:
    with live.client(live.tenant(f"usage-{abs(hash(query))}")) as client:
        _refused(client, client.get(f"/v1/usage?{query}"), "invalid_range")
