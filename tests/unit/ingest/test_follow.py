"""`--wait` follows this ingest's batch, and in earlier batches only this ingest's documents."""

from __future__ import annotations

import itertools
import json
from typing import Any

import httpx

from scripts.client import Client as ApiClient
from scripts.ingest import progress

USAGE = {"input_tokens": 0, "output_tokens": 0, "cost_usd": "0"}


class Clock:
    """Time that passes only when the code under test sleeps."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_an_earlier_batch_is_followed_only_until_our_documents_in_it_are_done() -> None:
    clock = Clock()
    scans: list[float] = []  # when OLD's results were read
    polls = {"B": 0, "OLD": 0}

    def handle(request: httpx.Request) -> httpx.Response:
        batch_id = request.url.path.split("/")[3]
        if request.url.path.endswith("/results"):
            scans.append(clock.now)
            ours = "running" if len(scans) < 3 else "succeeded"
            lines = [
                {"key": "ours", "status": ours},
                {"key": "someone-elses", "status": "queued"},  # never done: not ours to wait for
            ]
            return httpx.Response(200, text="\n".join(json.dumps(x) for x in lines))
        polls[batch_id] += 1
        assert polls[batch_id] < 100, "still polling"
        done = batch_id == "B" and polls["B"] >= 2
        answer: dict[str, Any] = {
            "id": batch_id,
            "total": 1,
            "counts": {"succeeded": 1} if done else {"queued": 1},
            "usage": USAGE,
            "finished_at": "2026-01-01T00:00:00Z" if done else None,
        }
        return httpx.Response(200, json=answer)

    transport = httpx.MockTransport(handle)
    with ApiClient(base_url="http://api", api_key="k", transport=transport) as api:
        agg = progress.follow(
            api, ["B"], also=["OLD"], keys={"ours"}, sleep=clock.sleep, clock=clock
        )
    assert agg["succeeded"] == 1  # this ingest's batch alone is counted
    assert len(scans) == 3
    gaps = [b - a for a, b in itertools.pairwise(scans)]
    assert all(gap >= progress.EARLIER_POLL_S for gap in gaps), scans
    assert polls["OLD"] == 3  # one check per scan, not four a second


def test_an_earlier_batch_without_our_open_documents_is_not_waited_for() -> None:
    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/results"):
            return httpx.Response(200, text=json.dumps({"key": "x", "status": "running"}))
        batch_id = request.url.path.split("/")[3]
        finished = "2026-01-01T00:00:00Z" if batch_id == "B" else None
        answer = {"id": batch_id, "total": 0, "counts": {}, "usage": USAGE, "finished_at": finished}
        return httpx.Response(200, json=answer)

    clock = Clock()
    transport = httpx.MockTransport(handle)
    with ApiClient(base_url="http://api", api_key="k", transport=transport) as api:
        progress.follow(api, ["B"], also=["OLD"], keys={"ours"}, sleep=clock.sleep, clock=clock)
    assert clock.now == 0.0  # no wait at all
