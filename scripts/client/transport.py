"""One request with retries that wait: which failures are worth another try, and how long.

Network errors, 5xx and 429 are retried with exponential backoff and jitter, honouring
Retry-After; the waits of one call never add up to more than `max_total_wait_s`, and the
whole call (its tries included) ends by `max_call_s`. A Retry-After longer than
`max_wait_s` ends the call at once with the API's error, carrying `retry_after_s`. A replay-safe
call (a read; an upload or rerun carrying an Idempotency-Key, which a replay cannot
duplicate) is retried after any of them. A call a replay could bill twice (an inference) is
retried only when the request surely did no work: a refused connection or a 429. Errors
that a new try would only repeat (no http:// scheme, a malformed request, a proxy's
refusal) are never retried.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

import httpx
from tenacity import RetryCallState, Retrying, retry_if_exception, wait_exponential, wait_random

from .errors import APIConnectionError, APIStatusError, APITimeoutError, error_from_response

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
DEFAULT_TIMEOUT = httpx.Timeout(300.0, connect=10.0)
MIN_TRY_S = 1.0  # a try given less time than this could hardly connect: it gets this much
# The same request would fail the same way: no scheme, a request httpx refuses to send,
# a proxy that refuses us.
DETERMINISTIC = (httpx.UnsupportedProtocol, httpx.LocalProtocolError, httpx.ProxyError)
NEVER_SENT = (httpx.ConnectError, httpx.ConnectTimeout)  # the API never saw the request

OnRetry = Callable[[int, int, float, str], None]
"""Called before each sleep as `(retry, max_retries, wait_s, reason)`: retry 1 is the 2nd try."""


@dataclass(frozen=True)
class RetryPolicy:
    """How often one call is sent again, and how long it may wait in all."""

    max_retries: int = 5  # tries after the first
    max_wait_s: float = 30.0  # one wait; a longer Retry-After ends the call with its error
    max_total_wait_s: float = 120.0  # every wait of one call together
    max_call_s: float | None = None  # the whole call; None: a try's read timeout + the waits
    backoff_s: float = 0.5  # the first backoff (before jitter); it doubles each retry


@dataclass
class _Call:
    """One call's state across its tries."""

    deadline: float | None  # on the transport's clock; None: no end but the retry counts
    unsure: bool = False  # an earlier try may have done its work before its answer was lost


class _Transient(Exception):
    """A 5xx or 429 answer worth another try (after `retry_after` seconds if given)."""

    def __init__(self, error: APIStatusError, retry_after: float | None) -> None:
        super().__init__(str(error))
        self.error, self.retry_after = error, retry_after


def retry_after_s(value: str | None) -> float | None:
    """Seconds from a Retry-After header: delta-seconds or an HTTP date."""
    if not value:
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        return max(0.0, seconds) if not math.isnan(seconds) else None
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return max(0.0, (when - dt.datetime.now(dt.UTC)).total_seconds())


def worth_retrying(exc: BaseException, *, replay_safe: bool) -> bool:
    """Whether a failed attempt may be sent again."""
    if isinstance(exc, DETERMINISTIC):
        return False
    if replay_safe:
        return isinstance(exc, httpx.TransportError | _Transient)
    # The first attempt may have done its work; only what surely never ran is sent again.
    if isinstance(exc, _Transient):
        return exc.error.status == 429
    return isinstance(exc, NEVER_SENT)


def _why(exc: BaseException) -> str:
    if isinstance(exc, _Transient):
        return str(exc.error)
    return str(exc) or type(exc).__name__


class Transport:
    """An httpx client for one deployment, sending every request under a retry policy."""

    def __init__(
        self,
        *,
        base_url: str,
        api_key: str | None,
        timeout: float | httpx.Timeout,
        policy: RetryPolicy,
        on_retry: OnRetry | None = None,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        user_agent: str = "docqueue-client",
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.policy, self.on_retry, self.sleep, self.clock = policy, on_retry, sleep, clock
        self._secret = api_key
        headers = {"User-Agent": user_agent}
        if api_key:
            headers["Authorization"] = f"Bearer {api_key}"
        self._http = httpx.Client(
            base_url=self.base_url, headers=headers, timeout=timeout, transport=transport
        )
        read = self._http.timeout.read
        self.max_call_s = policy.max_call_s
        if self.max_call_s is None and read is not None:
            self.max_call_s = read + policy.max_total_wait_s
        # Not wait_exponential_jitter: its `multiplier` is missing before 9.2, and `initial`
        # (which pyproject's floor, 8.5, has) is deprecated since. These two never changed.
        self._backoff = wait_exponential(multiplier=policy.backoff_s) + wait_random(min=0, max=1)

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def redact(self, text: str) -> str:
        """`text` with the API key blanked out, should anything have echoed it."""
        return text.replace(self._secret, "***") if self._secret else text

    def _deadline(self, within: float | None) -> float | None:
        ends = [self.clock() + s for s in (self.max_call_s, within) if s is not None]
        return min(ends) if ends else None

    def _try_timeout(self, call: _Call) -> httpx.Timeout:
        """The client's timeouts, none beyond the call's deadline."""
        base = self._http.timeout
        if call.deadline is None:
            return base
        left = max(MIN_TRY_S, call.deadline - self.clock())

        def cap(value: float | None) -> float:
            return left if value is None else min(value, left)

        return httpx.Timeout(
            connect=cap(base.connect),
            read=cap(base.read),
            write=cap(base.write),
            pool=cap(base.pool),
        )

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, _Transient) and exc.retry_after is not None:
            return exc.retry_after  # as asked: _stop ends the call if that is too long
        return min(self.policy.max_wait_s, float(self._backoff(state)))

    def _stop(self, call: _Call, state: RetryCallState) -> bool:
        if state.attempt_number > self.policy.max_retries:
            return True
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, _Transient) and (exc.retry_after or 0.0) > self.policy.max_wait_s:
            return True  # a try sooner than the API asked would only be refused again
        upcoming = state.upcoming_sleep or 0.0
        # A wait that would overrun the call's allowance is not waited: the error is more
        # use now than a late try.
        if state.idle_for + upcoming > self.policy.max_total_wait_s:
            return True
        return call.deadline is not None and self.clock() + upcoming + MIN_TRY_S > call.deadline

    def _before_sleep(self, state: RetryCallState) -> None:
        if self.on_retry is None or state.outcome is None:
            return
        exc = state.outcome.exception()
        reason = self.redact(_why(exc)) if exc is not None else "retrying"
        self.on_retry(state.attempt_number, self.policy.max_retries, state.upcoming_sleep, reason)

    def send(
        self,
        method: str,
        path: str,
        *,
        stream: bool = False,
        replay_safe: bool = True,
        within: float | None = None,
        **kw: Any,
    ) -> httpx.Response:
        """One request with retries, ended by `within` seconds if given; the response is 2xx.

        A streamed response must be closed by the caller.
        """
        call = _Call(self._deadline(within))

        def once() -> httpx.Response:
            req = self._http.build_request(method, path, timeout=self._try_timeout(call), **kw)
            try:
                resp = self._http.send(req, stream=stream)
            except httpx.TransportError as exc:
                call.unsure = call.unsure or not isinstance(exc, NEVER_SENT)
                raise
            if resp.is_success:
                return resp
            if stream:
                resp.read()
                resp.close()
            after = retry_after_s(resp.headers.get("retry-after"))
            error = error_from_response(resp, retry_after_s=after, secret=self._secret)
            error.after_lost_answer = call.unsure
            if resp.status_code in RETRY_STATUSES:
                call.unsure = call.unsure or resp.status_code != 429  # a 429 did nothing
                raise _Transient(error, after)
            raise error

        retrying = Retrying(
            retry=retry_if_exception(partial(worth_retrying, replay_safe=replay_safe)),
            stop=partial(self._stop, call),
            wait=self._wait,
            sleep=self.sleep,
            before_sleep=self._before_sleep,
            reraise=True,
        )
        try:
            return retrying(once)
        except _Transient as exc:
            raise exc.error from None
        except httpx.TimeoutException as exc:
            why = self.redact(_why(exc))
            connect = isinstance(exc, httpx.ConnectTimeout)
            lead = "cannot reach" if connect else "no answer in time from"
            raise APITimeoutError(f"{lead} {self.base_url}: {why}") from None
        except httpx.TransportError as exc:
            why = self.redact(_why(exc))
            raise APIConnectionError(f"cannot reach {self.base_url}: {why}") from None
