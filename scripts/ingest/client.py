"""A small client for the docqueue HTTP API: bearer auth, JSON errors, retries that wait.

Network errors, 5xx and 429 are retried with exponential backoff and jitter, honouring
Retry-After. Retrying a batch upload is safe: document keys and the batch's
Idempotency-Key make a replay create nothing twice.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential_jitter,
)

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


class ApiClientError(Exception):
    """A request failed for good; the message is one line, fit to show a user."""

    def __init__(self, message: str, *, status: int | None = None, type_: str | None = None):
        super().__init__(message)
        self.status, self.type = status, type_


class _Transient(Exception):
    """A 5xx or 429 answer worth another try (after `retry_after` seconds if given)."""

    def __init__(self, error: ApiClientError, retry_after: float | None) -> None:
        super().__init__(str(error))
        self.error, self.retry_after = error, retry_after


def _retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header: delta-seconds or an HTTP date."""
    if not value:
        return None
    if value.strip().isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - dt.datetime.now(dt.UTC)).total_seconds())


def _error(resp: httpx.Response) -> ApiClientError:
    """The API's `{"error": {"type", "message"}}` answer as an exception."""
    try:
        err = resp.json()["error"]
        type_, message = str(err["type"]), str(err["message"])
    except (ValueError, KeyError, TypeError):
        type_, message = "http_error", resp.text[:200].replace("\n", " ") or resp.reason_phrase
    return ApiClientError(
        f"HTTP {resp.status_code} {type_}: {message}", status=resp.status_code, type_=type_
    )


class ApiClient:
    """Calls the batch API of one docqueue deployment as one tenant."""

    def __init__(
        self,
        *,
        base_url: str,
        api_key: str,
        attempts: int = 6,
        max_wait_s: float = 30.0,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.attempts, self.max_wait_s = max(1, attempts), max_wait_s
        self._http = httpx.Client(
            base_url=self.base_url,
            headers={"Authorization": f"Bearer {api_key}"},
            timeout=httpx.Timeout(300.0, connect=10.0),
            transport=transport,
        )
        self._sleep = sleep
        self._backoff = wait_exponential_jitter(multiplier=0.5, max=max_wait_s)

    def __enter__(self) -> ApiClient:
        return self

    def __exit__(self, *_: object) -> None:
        self._http.close()

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, _Transient) and exc.retry_after is not None:
            return min(exc.retry_after, self.max_wait_s)
        return float(self._backoff(state))

    def _send(self, method: str, path: str, *, stream: bool = False, **kw: Any) -> httpx.Response:
        """One request with retries; the response is 2xx (streamed ones must be closed)."""

        def once() -> httpx.Response:
            req = self._http.build_request(method, path, **kw)
            resp = self._http.send(req, stream=stream)
            if resp.is_success:
                return resp
            if stream:
                resp.read()
                resp.close()
            if resp.status_code in RETRY_STATUSES:
                raise _Transient(_error(resp), _retry_after(resp.headers.get("retry-after")))
            raise _error(resp)

        retrying = Retrying(
            retry=retry_if_exception_type((httpx.TransportError, _Transient)),
            stop=stop_after_attempt(self.attempts),
            wait=self._wait,
            sleep=self._sleep,
            reraise=True,
        )
        try:
            return retrying(once)
        except _Transient as exc:
            raise exc.error from None
        except httpx.TransportError as exc:
            why = str(exc) or type(exc).__name__
            raise ApiClientError(f"cannot reach {self.base_url}: {why}") from None

    def create_batch(self, body: dict[str, Any], *, key: str | None = None) -> dict[str, Any]:
        """POST /v1/batches (JSON); `key` makes a re-send return and fill the same batch."""
        headers = {"Idempotency-Key": key} if key else {}
        return self._json(self._send("POST", "/v1/batches", json=body, headers=headers))

    def get_batch(self, batch_id: str) -> dict[str, Any]:
        """GET /v1/batches/{id}: counts per status, progress, usage."""
        return self._json(self._send("GET", f"/v1/batches/{batch_id}"))

    def results(self, batch_id: str) -> Iterator[dict[str, Any]]:
        """Stream GET /v1/batches/{id}/results, one job per item."""
        resp = self._send("GET", f"/v1/batches/{batch_id}/results", stream=True)
        try:
            for line in resp.iter_lines():
                if line.strip():
                    yield json.loads(line)
        except httpx.TransportError as exc:
            raise ApiClientError(f"results download of {batch_id} broke off: {exc}") from None
        finally:
            resp.close()

    @staticmethod
    def _json(resp: httpx.Response) -> dict[str, Any]:
        try:
            body: dict[str, Any] = resp.json()
        except ValueError:
            raise ApiClientError(f"the API answered {resp.status_code} without JSON") from None
        return body
