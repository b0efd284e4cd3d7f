"""Which failures the client sends again, how long it waits, and what on_retry hears."""

from __future__ import annotations

import email.utils
import time
import warnings
from typing import Any

import httpx
import pytest

from scripts.client import (
    APIConnectionError,
    APIStatusError,
    InternalServerError,
    NotFoundError,
    RateLimitError,
)
from scripts.client import transport as transport_module
from scripts.client.transport import retry_after_s
from tests.support.cli import Recorder, answers, error, mock_client, refused

OK = httpx.Response(200, json={"id": "b1", "finished_at": None})


@pytest.mark.parametrize(
    "failure",
    [
        error(503),
        error(500),
        error(502),
        error(504),
        error(429),
        refused(),
        httpx.ReadTimeout("slow"),
    ],
)
def test_a_replay_safe_read_is_sent_again_after_5xx_429_and_network_errors(
    failure: httpx.Response | Exception,
) -> None:
    handler, seen = answers(failure, OK)
    with mock_client(handler) as api:
        assert api.get_batch("b1")["id"] == "b1"
    assert len(seen) == 2


@pytest.mark.parametrize("failure", [error(500), error(503), httpx.ReadTimeout("slow")])
def test_an_inference_is_not_sent_again_after_a_5xx_or_a_read_timeout(
    failure: httpx.Response | Exception,
) -> None:
    handler, seen = answers(failure, httpx.Response(200, json={"status": "succeeded"}))
    with mock_client(handler) as api, pytest.raises((InternalServerError, APIConnectionError)):
        api.infer_schema([{"text": "a"}], None)
    assert len(seen) == 1  # it may have been billed: never twice


@pytest.mark.parametrize("failure", [error(429), refused()])
def test_an_inference_is_sent_again_after_a_429_or_a_refused_connection(
    failure: httpx.Response | Exception,
) -> None:
    handler, seen = answers(failure, httpx.Response(200, json={"status": "succeeded"}))
    with mock_client(handler) as api:
        assert api.infer_schema([{"text": "a"}], None)["status"] == "succeeded"
    assert len(seen) == 2


def test_a_4xx_other_than_429_is_never_sent_again() -> None:
    handler, seen = answers(error(404, "not_found"), OK)
    with mock_client(handler) as api, pytest.raises(NotFoundError, match="HTTP 404"):
        api.get_batch("b1")
    assert len(seen) == 1


def test_on_retry_hears_each_retry_number_the_maximum_the_wait_and_the_reason() -> None:
    rec = Recorder()
    handler, seen = answers(error(503, "overloaded", "try later"), refused(), OK)
    with mock_client(handler, rec, max_retries=5) as api:
        api.get_batch("b1")
    assert [(r[0], r[1]) for r in rec.retries] == [(1, 5), (2, 5)]
    assert [r[2] for r in rec.retries] == rec.slept  # announced before each sleep, as slept
    assert rec.retries[0][3] == "HTTP 503 overloaded: try later"
    assert "Connection refused" in rec.retries[1][3]
    assert 0.5 <= rec.slept[0] <= 1.5  # the first backoff, with up to 1 s of jitter
    assert 1.0 <= rec.slept[1] <= 2.0  # doubled
    assert len(seen) == 3


def test_max_retries_counts_the_tries_after_the_first_then_the_last_error_is_raised() -> None:
    rec = Recorder()
    handler, seen = answers(*[error(502, "bad_gateway")] * 4)
    with mock_client(handler, rec, max_retries=3) as api, pytest.raises(InternalServerError):
        api.get_batch("b1")
    assert len(seen) == 4
    assert [r[0] for r in rec.retries] == [1, 2, 3]


def test_retry_after_in_seconds_is_waited_instead_of_the_backoff() -> None:
    rec = Recorder()
    handler, _ = answers(error(429, "rate_limited", headers={"Retry-After": "7"}), OK)
    with mock_client(handler, rec) as api:
        api.get_batch("b1")
    assert rec.slept == [7.0]
    assert rec.retries[0][2] == 7.0


def test_retry_after_as_an_http_date_is_waited_until_that_time() -> None:
    when = email.utils.formatdate(time.time() + 12, usegmt=True)
    assert 10.0 <= (retry_after_s(when) or 0.0) <= 12.0
    assert retry_after_s("soon") is None
    assert retry_after_s(None) is None
    assert retry_after_s("-3") == 0.0


@pytest.mark.parametrize(("status", "cls"), [(429, RateLimitError), (503, InternalServerError)])
def test_a_retry_after_beyond_the_longest_wait_ends_the_call_with_it_instead_of_trying_early(
    status: int, cls: type[APIStatusError]
) -> None:
    rec = Recorder()
    handler, seen = answers(error(status, headers={"Retry-After": "3600"}), OK)
    with mock_client(handler, rec, max_wait_s=20.0) as api, pytest.raises(cls) as caught:
        api.get_batch("b1")
    assert rec.slept == []  # a try before the hour would only be refused again
    assert len(seen) == 1
    assert caught.value.retry_after_s == 3600.0


def test_the_waits_of_one_call_never_add_up_to_more_than_the_total_allowance() -> None:
    rec = Recorder()
    limited = error(429, "rate_limited", headers={"Retry-After": "25"})
    handler, seen = answers(*[limited] * 10)
    with (
        mock_client(handler, rec, max_retries=9, max_total_wait_s=60.0) as api,
        pytest.raises(RateLimitError) as caught,
    ):
        api.get_batch("b1")
    assert rec.slept == [25.0, 25.0]  # a third wait would pass 60 s: the error comes now
    assert sum(rec.slept) <= 60.0
    assert len(seen) == 3
    assert caught.value.retry_after_s == 25.0
    assert caught.value.retryable


def test_a_connection_never_made_ends_as_one_line_naming_the_url() -> None:
    handler, seen = answers(*[refused()] * 3)
    with mock_client(handler, max_retries=2) as api, pytest.raises(APIConnectionError) as caught:
        api.get_batch("b1")
    assert len(seen) == 3
    assert str(caught.value).startswith("cannot reach http://api.test: ")
    assert "\n" not in str(caught.value)
    assert caught.value.retryable


def test_a_batch_upload_with_its_key_is_re_sent_with_the_same_key() -> None:
    handler, seen = answers(error(502), httpx.ReadTimeout("lost"), httpx.Response(202, json={}))
    with mock_client(handler) as api:
        api.create_batch({"schema": "invoice", "documents": []}, key="ingest:abc")
    assert [r.headers["idempotency-key"] for r in seen] == ["ingest:abc"] * 3


def test_submit_batch_makes_up_one_key_for_every_re_send_of_the_same_call() -> None:
    handler, seen = answers(error(503), httpx.Response(202, json={"id": "b9"}))
    with mock_client(handler) as api:
        assert api.submit_batch(["a"], schema="invoice")["id"] == "b9"
    first, second = (r.headers["idempotency-key"] for r in seen)
    assert first == second
    assert first.startswith("submit-")


def test_create_job_makes_up_one_key_per_call_so_a_re_send_replays_the_same_job() -> None:
    ok = httpx.Response(202, json={"id": "j1"})
    handler, seen = answers(error(500), ok, ok)
    with mock_client(handler) as api:
        api.create_job({"schema": "invoice", "text": "a"})
        api.create_job({"schema": "invoice", "text": "b"})
    keys = [r.headers["idempotency-key"] for r in seen]
    assert keys[0] == keys[1] != keys[2]


def test_the_old_clients_attempts_count_the_first_try_too() -> None:
    handler, seen = answers(*[error(503)] * 5)
    with mock_client(handler, attempts=3) as api, pytest.raises(InternalServerError):
        api.get_batch("b1")
    assert len(seen) == 3
    assert api.max_retries == 2


@pytest.mark.parametrize(
    "failure",
    [
        httpx.UnsupportedProtocol("Request URL is missing an 'http://' or 'https://' protocol."),
        httpx.LocalProtocolError("Illegal header value"),
        httpx.ProxyError("407 Proxy Authentication Required"),
    ],
)
def test_a_transport_error_a_new_try_would_only_repeat_is_not_retried(
    failure: Exception,
) -> None:
    rec = Recorder()
    handler, seen = answers(failure, OK)
    with mock_client(handler, rec) as api, pytest.raises(APIConnectionError):
        api.get_batch("b1")
    assert (len(seen), rec.slept) == (1, [])


# The keyword arguments of tenacity 8.5.0's wait strategies (pyproject asks tenacity>=8.5).
TENACITY_8_5 = {
    "wait_exponential": {"multiplier", "max", "exp_base", "min"},
    "wait_exponential_jitter": {"initial", "max", "exp_base", "jitter"},
    "wait_random": {"min", "max"},
    "wait_fixed": {"wait"},
}


def test_the_backoff_uses_only_what_tenacity_8_5_has_and_nothing_deprecated_since(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def as_in_8_5(name: str, real: Any) -> Any:
        def made(*args: Any, **kw: Any) -> Any:
            assert not args, f"{name} called with positional arguments"
            assert set(kw) <= TENACITY_8_5[name], f"{name}({', '.join(kw)}) is not in 8.5"
            return real(**kw)

        return made

    for name in TENACITY_8_5:
        if hasattr(transport_module, name):
            real = getattr(transport_module, name)
            monkeypatch.setattr(transport_module, name, as_in_8_5(name, real))
    rec = Recorder()
    handler, _ = answers(error(503), OK)
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        with mock_client(handler, rec) as api:
            api.get_batch("b1")
    assert 0.5 <= rec.slept[0] <= 1.5
