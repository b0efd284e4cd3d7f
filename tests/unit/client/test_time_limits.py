"""How long one call may take in all: its tries, their answers and the waits between them."""

from __future__ import annotations

import httpx
import pytest

from scripts.client import APITimeoutError, RateLimitError, polls
from tests.support.cli import Handler, Recorder, answers, error, mock_client

OK = httpx.Response(200, json={"id": "b1", "finished_at": None})


def never_answers(rec: Recorder) -> tuple[Handler, list[float]]:
    """An API that never answers: each try lasts its whole read timeout on the fake clock."""
    timeouts: list[float] = []

    def handler(request: httpx.Request) -> httpx.Response:
        timeouts.append(request.extensions["timeout"]["read"])
        rec.now += timeouts[-1]
        raise httpx.ReadTimeout("no answer")

    return handler, timeouts


def test_one_call_ends_by_its_time_limit_counting_the_time_its_tries_take() -> None:
    rec = Recorder()
    handler, timeouts = never_answers(rec)
    with mock_client(handler, rec) as api, pytest.raises(APITimeoutError):
        api.get_batch("b1")
    # A try's read timeout (300 s) plus the waits allowed (120 s), not 6 tries of 300 s.
    assert rec.now <= 300.0 + 120.0
    assert timeouts[0] == 300.0
    assert len(timeouts) == 2
    assert timeouts[1] <= 120.0  # the second try gets what is left, not another 300 s


def test_max_call_s_gives_each_try_only_the_time_left() -> None:
    rec = Recorder()
    handler, timeouts = never_answers(rec)
    with mock_client(handler, rec, max_call_s=50.0) as api, pytest.raises(APITimeoutError):
        api.get_batch("b1")
    assert timeouts == [50.0]
    assert rec.now == 50.0


def test_a_retry_after_that_would_pass_the_calls_time_limit_is_not_waited() -> None:
    rec = Recorder()
    handler, seen = answers(error(429, headers={"Retry-After": "25"}), OK)
    with mock_client(handler, rec, max_call_s=20.0) as api, pytest.raises(RateLimitError):
        api.get_batch("b1")
    assert (rec.slept, len(seen)) == ([], 1)


def test_polls_start_quick_slow_down_to_their_cap_and_end_with_a_poll_at_the_timeout() -> None:
    rec = Recorder()
    lefts = list(polls(1.0, sleep=rec.sleep, clock=lambda: rec.now))
    assert rec.slept == [0.25, 0.3125, 0.390625, 1.0 - 0.25 - 0.3125 - 0.390625]
    assert lefts[0] == 1.0
    assert lefts[-1] == 0.0  # the last poll is at the timeout
    endless = polls(sleep=rec.sleep, clock=lambda: rec.now)
    assert [next(endless) for _ in range(12)] == [None] * 12
    assert rec.slept[-1] == 2.0  # capped
