"""Transport retry policy: classify provider failures, and back off with full jitter."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field

import anthropic
import httpx
import httpx2
import openai
from pydantic import ValidationError

RETRYABLE_STATUS = frozenset({408, 409, 429, 500, 502, 503, 529})
FATAL_STATUS = frozenset({400, 401, 403, 404, 422})
_CONTEXT_MARKERS = ("context_length", "context length", "maximum context", "prompt is too long")
_FILTER_MARKERS = ("content_filter", "content filter", "content management policy")


@dataclass
class CallFailure:
    """How one transport attempt failed, as the retry classifier saw it."""

    retryable: bool
    kind: str
    status: int | None = None
    retry_after_s: float | None = None
    detail: str = field(default="")


def _retry_after(headers: httpx2.Headers | httpx.Headers | None) -> float | None:
    """Seconds the provider asked us to wait (`retry-after-ms` wins over `retry-after`)."""
    if headers is None:
        return None
    for name, scale in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        raw = headers.get(name)
        if raw is None:
            continue
        try:
            return max(0.0, float(raw) / scale)
        except ValueError:
            continue  # an HTTP date: rare from LLM providers; fall back to our own backoff
    return None


def classify(exc: BaseException) -> CallFailure:
    """Decide whether a failed provider call may be retried, and how long to wait."""
    if isinstance(exc, openai.APIStatusError | anthropic.APIStatusError):
        status = exc.status_code
        detail = str(exc)[:500]
        lowered = detail.lower()
        if any(m in lowered for m in _CONTEXT_MARKERS):
            return CallFailure(False, "context_length", status, None, detail)
        if any(m in lowered for m in _FILTER_MARKERS):
            return CallFailure(False, "content_filter", status, None, detail)
        retry_after = _retry_after(exc.response.headers)
        if status in RETRYABLE_STATUS or status >= 500:
            return CallFailure(True, f"http_{status}", status, retry_after, detail)
        return CallFailure(False, f"http_{status}", status, None, detail)
    if isinstance(
        exc,
        openai.APITimeoutError
        | anthropic.APITimeoutError
        | httpx.TimeoutException
        | httpx2.TimeoutException,
    ):
        return CallFailure(True, "timeout", None, None, str(exc)[:200])
    if isinstance(
        exc,
        openai.APIConnectionError
        | anthropic.APIConnectionError
        | httpx.TransportError
        | httpx2.TransportError,
    ):
        return CallFailure(True, "connection", None, None, str(exc)[:200])
    if isinstance(exc, ValidationError | json.JSONDecodeError):
        return CallFailure(False, "validation", None, None, str(exc)[:500])
    return CallFailure(False, type(exc).__name__, None, None, str(exc)[:500])


def backoff_s(*, attempt: int, base_s: float, cap_s: float, retry_after_s: float | None) -> float:
    """Full-jitter exponential backoff, never shorter than the provider's retry-after."""
    ceiling = min(cap_s, base_s * (2 ** max(0, attempt - 1)))
    delay = random.uniform(0.0, ceiling)
    if retry_after_s is not None:
        delay = max(delay, min(retry_after_s, cap_s))
    return delay
