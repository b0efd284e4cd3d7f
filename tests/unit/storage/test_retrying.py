"""Transient connection faults: which errors they are, and how their retries are paced."""

from __future__ import annotations

import psycopg
import pytest
from sqlalchemy import exc as sa_exc

from schemas.config import DbRetryConfig
from storage.retrying import retry_transient, transient_kind, with_transient_retry
from tests.unit.flow.clock import ManualClock

POLICY = DbRetryConfig(base_delay_s=0.1, max_delay_s=0.8, max_wall_s=3.0)


def _operational(message: str) -> sa_exc.OperationalError:
    return sa_exc.OperationalError("SELECT 1", {}, psycopg.OperationalError(message))


REFUSED = (
    'connection failed: connection to server at "127.0.0.1", port 1 failed: Connection refused'
)
TOO_MANY = "connection failed: FATAL:  sorry, too many clients already"
DROPPED = "server closed the connection unexpectedly"


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (_operational(REFUSED), "refused"),
        (_operational(TOO_MANY), "too_many_clients"),
        (_operational('FATAL:  too many connections for role "x"'), "too_many_clients"),
        (_operational(DROPPED), "dropped"),
        (_operational("FATAL:  the database system is starting up"), "refused"),
        (sa_exc.TimeoutError("QueuePool limit of size 2 overflow 0 reached"), "pool_timeout"),
        (sa_exc.DisconnectionError("pooled connection is dead"), "dropped"),
        (_operational("canceling statement due to statement timeout"), None),
        (sa_exc.IntegrityError("INSERT", {}, psycopg.IntegrityError("duplicate key")), None),
        (ValueError("not a database error"), None),
    ],
)
def test_refused_full_and_dropped_connections_are_transient_and_other_errors_are_not(
    error: BaseException, kind: str | None
) -> None:
    assert transient_kind(error) == kind


class Flaky:
    """Fails with `error` for the first `failures` calls, then answers 42."""

    def __init__(self, failures: int, error: BaseException) -> None:
        self.failures = failures
        self.error = error
        self.calls = 0

    def __call__(self) -> int:
        self.calls += 1
        if self.calls <= self.failures:
            raise self.error
        return 42


def _run(fn: Flaky, clock: ManualClock, sleeps: list[float]) -> int:
    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        clock.advance(seconds)

    return retry_transient("test", fn, policy=POLICY, sleep=sleep, clock=clock, rand=lambda: 1.0)


def test_a_refused_connection_is_retried_with_growing_backoff_until_it_succeeds() -> None:
    clock, sleeps = ManualClock(), list[float]()
    fn = Flaky(3, _operational(REFUSED))
    assert _run(fn, clock, sleeps) == 42
    assert fn.calls == 4
    assert sleeps == pytest.approx([0.1, 0.2, 0.4])


def test_the_backoff_is_capped_and_the_retries_stop_within_the_wall_budget() -> None:
    clock, sleeps = ManualClock(), list[float]()
    fn = Flaky(1000, _operational(TOO_MANY))
    with pytest.raises(sa_exc.OperationalError, match="too many clients"):
        _run(fn, clock, sleeps)
    assert max(sleeps) == pytest.approx(0.8)
    assert sum(sleeps) <= POLICY.max_wall_s
    assert sum(sleeps) > POLICY.max_wall_s - POLICY.max_delay_s


def test_an_error_that_is_not_a_connection_fault_is_raised_at_once() -> None:
    clock, sleeps = ManualClock(), list[float]()
    fn = Flaky(1, _operational("canceling statement due to statement timeout"))
    with pytest.raises(sa_exc.OperationalError, match="statement timeout"):
        _run(fn, clock, sleeps)
    assert fn.calls == 1
    assert sleeps == []


def test_the_decorator_retries_the_function_it_wraps() -> None:
    fn = Flaky(1, _operational(DROPPED))

    @with_transient_retry("decorated", max_wall_s=5.0)
    def wrapped(plus: int) -> int:
        return fn() + plus

    assert wrapped(1) == 43
    assert fn.calls == 2
