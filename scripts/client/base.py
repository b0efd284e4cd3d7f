"""What every call shares: the deployment and key from the environment, JSON, NDJSON, pages."""

from __future__ import annotations

import datetime as dt
import json
import os
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Self
from urllib.parse import quote

import httpx

from .errors import APIConnectionError, DocqueueError
from .transport import DEFAULT_TIMEOUT, OnRetry, RetryPolicy, Transport

DEFAULT_URL = "http://127.0.0.1:8000"
URL_ENV, KEY_ENV = "DOCQUEUE_API_URL", "DOCQUEUE_API_KEY"


def segment(value: object) -> str:
    """An id or name as one URL path segment (`a/b` stays one: `a%2Fb`)."""
    return quote(str(value), safe="")


def when_param(value: str | dt.datetime | dt.date | None) -> str | None:
    """A query parameter for a point in time: RFC 3339 (a date is its midnight, UTC)."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, dt.datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=dt.UTC)
        return aware.isoformat()
    return dt.datetime.combine(value, dt.time(), tzinfo=dt.UTC).isoformat()


def day_param(value: str | dt.date | None) -> str | None:
    """A query parameter for a UTC day: `YYYY-MM-DD`."""
    if value is None or isinstance(value, str):
        return value
    return (value.date() if isinstance(value, dt.datetime) else value).isoformat()


class BaseClient:
    """One docqueue deployment, called as one tenant; a context manager."""

    def __init__(
        self,
        base_url: str | None = None,
        api_key: str | None = None,
        *,
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
        max_retries: int = 5,
        on_retry: OnRetry | None = None,
        transport: httpx.BaseTransport | None = None,
        max_wait_s: float = 30.0,
        max_total_wait_s: float = 120.0,
        max_call_s: float | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        attempts: int | None = None,
    ) -> None:
        # `attempts` (tries in all, the first included) is the old ApiClient's name for it
        if attempts is not None:
            max_retries = max(1, attempts) - 1
        url = base_url or os.environ.get(URL_ENV) or DEFAULT_URL
        if not url.lower().startswith(("http://", "https://")):
            # Without a scheme httpx could never send it: say so now, not after the retries.
            raise DocqueueError(f"{URL_ENV} must start with http:// or https:// (got {url!r})")
        key = api_key if api_key is not None else os.environ.get(KEY_ENV)
        if not key:
            raise DocqueueError(f"no API key: set {KEY_ENV} (see `docqueue tenant create`)")
        policy = RetryPolicy(
            max_retries=max(0, max_retries),
            max_wait_s=max_wait_s,
            max_total_wait_s=max_total_wait_s,
            max_call_s=max_call_s,
        )
        self._t = Transport(
            base_url=url,
            api_key=key,
            timeout=timeout,
            policy=policy,
            on_retry=on_retry,
            transport=transport,
            sleep=sleep,
            clock=clock,
        )
        self._sleep, self._clock = sleep, clock

    @property
    def base_url(self) -> str:
        """The deployment's URL, without a trailing slash."""
        return self._t.base_url

    @property
    def max_retries(self) -> int:
        """Tries after the first, per call."""
        return self._t.policy.max_retries

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.base_url!r})"  # never the key

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection pool; the client is unusable afterwards."""
        self._t.close()

    def _send(
        self, method: str, path: str, *, stream: bool = False, replay_safe: bool = True, **kw: Any
    ) -> httpx.Response:
        return self._t.send(method, path, stream=stream, replay_safe=replay_safe, **kw)

    def _get(
        self, path: str, params: Mapping[str, Any] | None = None, *, within: float | None = None
    ) -> dict[str, Any]:
        query = {k: v for k, v in (params or {}).items() if v is not None}
        return self._json(self._send("GET", path, params=query, within=within))

    def _post(
        self, path: str, body: Any = None, *, key: str | None = None, replay_safe: bool = True
    ) -> dict[str, Any]:
        headers = {"Idempotency-Key": key} if key else {}
        kw: dict[str, Any] = {"headers": headers}
        if body is not None:
            kw["json"] = body
        return self._json(self._send("POST", path, replay_safe=replay_safe, **kw))

    def _pages(
        self, path: str, item_key: str, params: Mapping[str, Any]
    ) -> Iterator[dict[str, Any]]:
        """Every item of a cursor-paginated list, fetching the next page when one runs out."""
        query = {k: v for k, v in params.items() if v is not None}
        while True:
            page = self._get(path, query)
            yield from page.get(item_key) or ()
            cursor = page.get("next_cursor")
            if not cursor:
                return
            query = {**query, "cursor": cursor}

    def _lines(
        self, path: str, what: str, params: Mapping[str, str] | None = None
    ) -> Iterator[dict[str, Any]]:
        """Stream an NDJSON answer, one object per non-empty line."""
        resp = self._send("GET", path, stream=True, params=params)
        try:
            for line in resp.iter_lines():
                if line.strip():
                    yield json.loads(line)
        except httpx.TransportError as exc:
            raise APIConnectionError(f"{what} broke off: {self._t.redact(str(exc))}") from None
        finally:
            resp.close()

    @staticmethod
    def _json(resp: httpx.Response) -> dict[str, Any]:
        try:
            body: dict[str, Any] = resp.json()
        except ValueError:
            raise DocqueueError(f"the API answered {resp.status_code} without JSON") from None
        return body
