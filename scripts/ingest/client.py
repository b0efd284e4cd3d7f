"""A small client for the docqueue HTTP API: bearer auth, JSON errors, retries that wait.

Network errors, 5xx and 429 are retried with exponential backoff and jitter, honouring
Retry-After. Retrying a batch upload is safe: document keys and the batch's
Idempotency-Key make a replay create nothing twice, and so does a rerun's. An inference,
which a replay would bill again, is retried only when the request surely did no work: a
refused connection or a 429.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import json
import time
import uuid
from collections.abc import Callable, Iterator
from functools import partial
from typing import Any
from urllib.parse import quote

import httpx
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential_jitter,
)

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


class ApiClientError(Exception):
    """A request failed for good; the message is one line, fit to show a user."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        type_: str | None = None,
        detail: dict[str, Any] | None = None,
    ):
        super().__init__(message)
        self.status, self.type = status, type_
        self.detail = detail or {}  # the whole `error` object (a 422's `pointer`, say)


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
    detail: dict[str, Any] = {}
    try:
        detail = resp.json()["error"]
        type_, message = str(detail["type"]), str(detail["message"])
    except (ValueError, KeyError, TypeError):
        detail = {}
        type_, message = "http_error", resp.text[:200].replace("\n", " ") or resp.reason_phrase
    return ApiClientError(
        f"HTTP {resp.status_code} {type_}: {message}",
        status=resp.status_code,
        type_=type_,
        detail=detail,
    )


def _worth_retrying(exc: BaseException, *, replay_safe: bool) -> bool:
    """Whether a failed attempt may be sent again."""
    if replay_safe:
        return isinstance(exc, httpx.TransportError | _Transient)
    # The first attempt may have done its work; only what surely never ran is sent again.
    if isinstance(exc, _Transient):
        return exc.error.status == 429
    return isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout)


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

    def _send(
        self, method: str, path: str, *, stream: bool = False, replay_safe: bool = True, **kw: Any
    ) -> httpx.Response:
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
            retry=retry_if_exception(partial(_worth_retrying, replay_safe=replay_safe)),
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
        return self._lines(f"/v1/batches/{batch_id}/results", f"results download of {batch_id}")

    def rerun_batch(self, batch_id: str, schema: str) -> dict[str, Any]:
        """POST /v1/batches/{id}/rerun: the same documents as a new batch under `schema`.

        One Idempotency-Key for every re-send: a replay after a lost answer returns the
        batch the first request made, so it is retried like any safe call.
        """
        body = {"schema": schema}
        path = f"/v1/batches/{batch_id}/rerun"
        headers = {"Idempotency-Key": f"rerun-{uuid.uuid4().hex}"}
        return self._json(self._send("POST", path, json=body, headers=headers))

    def diff_summary(self, batch_id: str, against: str) -> dict[str, Any]:
        """GET /v1/batches/{id}/diff?format=summary: change counts per field."""
        params = {"against": against, "format": "summary"}
        return self._json(self._send("GET", f"/v1/batches/{batch_id}/diff", params=params))

    def diff_lines(self, batch_id: str, against: str) -> Iterator[dict[str, Any]]:
        """Stream GET /v1/batches/{id}/diff: one line per document, then the summary."""
        path, what = f"/v1/batches/{batch_id}/diff", f"diff of {batch_id}"
        return self._lines(path, what, params={"against": against})

    def create_extractor(self, body: dict[str, Any]) -> tuple[bool, dict[str, Any]]:
        """POST /v1/extractors: (True, version) when new, (False, latest) when unchanged.

        Safe to replay: the same content answers 200 with the version already stored.
        """
        resp = self._send("POST", "/v1/extractors", json=body)
        return resp.status_code == 201, self._json(resp)

    def extractors(self) -> list[dict[str, Any]]:
        """GET /v1/extractors: the tenant's extractors and the built-ins."""
        data: list[dict[str, Any]] = self._json(self._send("GET", "/v1/extractors"))["data"]
        return data

    def extractor(self, name: str) -> dict[str, Any]:
        """GET /v1/extractors/{name}: the extractor and its versions."""
        return self._json(self._send("GET", f"/v1/extractors/{quote(name, safe='')}"))

    def extractor_version(self, name: str, version: int) -> dict[str, Any]:
        """GET /v1/extractors/{name}/versions/{n}: one version with its JSON Schema."""
        path = f"/v1/extractors/{quote(name, safe='')}/versions/{version}"
        return self._json(self._send("GET", path))

    def archive_extractor(self, name: str) -> dict[str, Any]:
        """DELETE /v1/extractors/{name}: refuse new jobs; old results stay readable."""
        return self._json(self._send("DELETE", f"/v1/extractors/{quote(name, safe='')}"))

    def infer_schema(self, samples: list[dict[str, str]], hint: str | None) -> dict[str, Any]:
        """POST /v1/extractors/infer: a schema (200) or a job still running (202)."""
        body = {"samples": samples, "hint": hint}
        return self._json(self._send("POST", "/v1/extractors/infer", json=body, replay_safe=False))

    def inference(self, job_id: str) -> dict[str, Any]:
        """GET /v1/extractors/infer/{job_id}: the inference job as POST answered it."""
        return self._json(self._send("GET", f"/v1/extractors/infer/{quote(job_id, safe='')}"))

    def _lines(
        self, path: str, what: str, params: dict[str, str] | None = None
    ) -> Iterator[dict[str, Any]]:
        """Stream an NDJSON answer, one object per non-empty line."""
        resp = self._send("GET", path, stream=True, params=params)
        try:
            for line in resp.iter_lines():
                if line.strip():
                    yield json.loads(line)
        except httpx.TransportError as exc:
            raise ApiClientError(f"{what} broke off: {exc}") from None
        finally:
            resp.close()

    @staticmethod
    def _json(resp: httpx.Response) -> dict[str, Any]:
        try:
            body: dict[str, Any] = resp.json()
        except ValueError:
            raise ApiClientError(f"the API answered {resp.status_code} without JSON") from None
        return body
