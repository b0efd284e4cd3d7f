"""The retry classifier and the backoff bounds, on the SDKs' real exception types."""

from __future__ import annotations

import json

import anthropic
import httpx2
import openai
import pytest
from pydantic import BaseModel, ValidationError

from tasks.engine.retry import backoff_s, classify


def _openai_error(
    status: int, headers: dict[str, str] | None = None, message: str = "boom"
) -> openai.APIStatusError:
    request = httpx2.Request("POST", "http://sim/v1/chat/completions")
    response = httpx2.Response(
        status, headers=headers or {}, request=request, json={"error": {"message": message}}
    )
    cls = {429: openai.RateLimitError, 400: openai.BadRequestError}.get(
        status, openai.APIStatusError
    )
    return cls(message, response=response, body=None)


def _anthropic_error(status: int) -> anthropic.APIStatusError:
    request = httpx2.Request("POST", "http://sim/v1/messages")
    response = httpx2.Response(status, request=request, json={"type": "error"})
    return anthropic.APIStatusError("overloaded", response=response, body=None)


@pytest.mark.parametrize("status", [408, 409, 429, 500, 502, 503, 529])
def test_transient_statuses_are_retryable(status: int) -> None:
    failure = classify(_openai_error(status))
    assert failure.retryable
    assert failure.status == status


@pytest.mark.parametrize("status", [400, 401, 403, 404, 422])
def test_client_errors_are_fatal(status: int) -> None:
    assert not classify(_openai_error(status)).retryable


def test_anthropic_overloaded_529_is_retryable() -> None:
    assert classify(_anthropic_error(529)).retryable


def test_context_length_error_is_fatal_even_on_a_retryable_status() -> None:
    failure = classify(_openai_error(400, message="This model's maximum context length is 8192"))
    assert (failure.retryable, failure.kind) == (False, "context_length")


def test_content_filter_is_fatal() -> None:
    assert (
        classify(_openai_error(400, message="blocked by content_filter")).kind == "content_filter"
    )


def test_retry_after_ms_wins_over_retry_after() -> None:
    failure = classify(_openai_error(429, {"retry-after-ms": "1500", "retry-after": "9"}))
    assert failure.retry_after_s == 1.5


def test_retry_after_seconds_is_read() -> None:
    assert classify(_openai_error(429, {"retry-after": "3"})).retry_after_s == 3.0


def test_timeouts_and_connection_errors_are_retryable() -> None:
    request = httpx2.Request("POST", "http://sim/v1/chat/completions")
    assert classify(openai.APITimeoutError(request=request)).kind == "timeout"
    assert classify(openai.APIConnectionError(request=request)).retryable


def test_validation_and_json_errors_are_not_transport_retries() -> None:
    class M(BaseModel):
        x: int

    with pytest.raises(ValidationError) as info:
        M.model_validate({"x": "nope"})
    assert classify(info.value).kind == "validation"
    assert classify(json.JSONDecodeError("bad", "{", 0)).kind == "validation"


def test_backoff_stays_within_full_jitter_bounds() -> None:
    for attempt in range(1, 8):
        ceiling = min(10.0, 0.5 * 2 ** (attempt - 1))
        delays = [
            backoff_s(attempt=attempt, base_s=0.5, cap_s=10.0, retry_after_s=None)
            for _ in range(200)
        ]
        assert all(0.0 <= d <= ceiling for d in delays)
        assert max(delays) > ceiling / 2  # jitter spreads over the whole range


def test_backoff_honours_retry_after_but_never_past_the_cap() -> None:
    assert backoff_s(attempt=1, base_s=0.01, cap_s=10.0, retry_after_s=2.0) >= 2.0
    assert backoff_s(attempt=1, base_s=0.01, cap_s=1.0, retry_after_s=30.0) <= 1.0
