"""Calls re-sent after a lost answer: what a replay gets, and what the client makes of it."""

from __future__ import annotations

import httpx
import pytest

from scripts.client import ConflictError
from tests.support.cli import answers, error, mock_client, refused


def test_a_job_retry_re_sent_after_a_lost_answer_returns_the_job_the_first_try_queued() -> None:
    queued = httpx.Response(200, json={"id": "j1", "status": "queued"})
    handler, seen = answers(httpx.ReadTimeout("lost"), error(409, "invalid_state"), queued)
    with mock_client(handler) as api:
        assert api.retry_job("j1") == {"id": "j1", "status": "queued"}
    assert [(r.method, r.url.path) for r in seen] == [
        ("POST", "/v1/jobs/j1/retry"),
        ("POST", "/v1/jobs/j1/retry"),
        ("GET", "/v1/jobs/j1"),
    ]


@pytest.mark.parametrize(
    ("first", "job_status"),
    [
        (None, "queued"),  # no earlier try: the 409 is the API's answer to this one
        (refused(), "queued"),  # the first try never reached the API
        (error(429), "queued"),  # the first try was refused before doing anything
        (httpx.ReadTimeout("lost"), "failed"),  # the first try did not take either
    ],
)
def test_a_job_retry_refused_with_409_is_an_error_unless_an_earlier_try_may_have_worked(
    first: Exception | httpx.Response | None, job_status: str
) -> None:
    job = httpx.Response(200, json={"id": "j1", "status": job_status})
    tries = [first] if first is not None else []
    handler, seen = answers(*tries, error(409, "invalid_state"), job)
    with mock_client(handler) as api, pytest.raises(ConflictError):
        api.retry_job("j1")
    gets = [r for r in seen if r.method == "GET"]
    assert len(gets) == (1 if job_status == "failed" else 0)


@pytest.mark.parametrize("call", ["cancel_batch", "retry_batch"])
def test_a_batch_cancel_or_retry_is_re_sent_after_a_lost_answer(call: str) -> None:
    handler, seen = answers(httpx.ReadTimeout("lost"), httpx.Response(200, json={"id": "b1"}))
    with mock_client(handler) as api:
        assert getattr(api, call)("b1") == {"id": "b1"}  # the API answers a replay alike
    assert len(seen) == 2
