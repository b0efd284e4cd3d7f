"""Refused connections are retried, and a pool never opens more than its size (real Postgres)."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator

import psycopg
import pytest
from sqlalchemy import exc as sa_exc
from sqlalchemy import text

from schemas.config import DbRetryConfig, PoolConfig
from scripts.devstack.ports import free_port
from storage.db import make_engine
from storage.retrying import connection_errors, retry_transient

QUICK = DbRetryConfig(base_delay_s=0.02, max_delay_s=0.2, max_wall_s=1.5)
ONE = PoolConfig(pool_size=1, max_overflow=0, pool_timeout_s=5.0)


def _backends(pg_url: str, application_name: str) -> int:
    with psycopg.connect(pg_url.replace("+psycopg", ""), autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s",
            (application_name,),
        ).fetchone()
    return int(row[0]) if row else 0


def test_a_refused_connection_is_retried_then_raised_within_the_wall_budget(pg_url: str) -> None:
    nowhere = f"postgresql+psycopg://docqueue@127.0.0.1:{free_port()}/none"
    engine = make_engine(nowhere, ONE)
    attempts = 0
    before = connection_errors().get("refused", 0)

    def ping() -> None:
        nonlocal attempts
        attempts += 1
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))

    began = time.monotonic()
    with pytest.raises(sa_exc.OperationalError, match=r"(?i)connection refused"):
        retry_transient("test_refused", ping, policy=QUICK)
    took = time.monotonic() - began
    engine.dispose()
    assert attempts >= 4
    assert took < QUICK.max_wall_s + 1.0
    # counted by the engine's handle_error (other threads of this process may add more)
    assert connection_errors().get("refused", 0) - before >= attempts


@pytest.fixture
def limited_role(pg_url: str) -> Iterator[str]:
    """A login role Postgres lets hold one connection at a time; yields its URL."""
    role = f"limited_{uuid.uuid4().hex[:8]}"
    admin = pg_url.replace("+psycopg", "")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {role} LOGIN CONNECTION LIMIT 1")
    yield pg_url.replace("//docqueue@", f"//{role}@")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s", (role,)
        )
        conn.execute(f"DROP ROLE {role}")


def test_a_connection_refused_as_too_many_is_retried_until_a_slot_frees(limited_role: str) -> None:
    hog = psycopg.connect(limited_role.replace("+psycopg", ""))  # takes the role's only slot
    threading.Timer(0.4, hog.close).start()
    engine = make_engine(limited_role, ONE)
    attempts = 0
    before = connection_errors().get("too_many_clients", 0)

    def ping() -> int:
        nonlocal attempts
        attempts += 1
        with engine.connect() as conn:
            return int(conn.execute(text("SELECT 1")).scalar_one())

    assert retry_transient("test_too_many", ping, policy=QUICK) == 1
    engine.dispose()
    assert attempts >= 2
    assert connection_errors().get("too_many_clients", 0) - before >= attempts - 1


def test_a_pool_never_opens_more_than_its_size_and_an_empty_pool_times_out_clearly(
    pg_url: str,
) -> None:
    name = f"docqueue-pooltest-{uuid.uuid4().hex[:6]}"
    pool = PoolConfig(pool_size=2, max_overflow=0, pool_timeout_s=0.3)
    engine = make_engine(pg_url, pool, application_name=name)
    held = [engine.connect(), engine.connect()]
    for conn in held:
        conn.execute(text("SELECT 1"))
    began = time.monotonic()
    with pytest.raises(sa_exc.TimeoutError, match="QueuePool limit of size 2 overflow 0"):
        engine.connect()
    assert 0.25 < time.monotonic() - began < 3
    assert _backends(pg_url, name) == 2  # it waited; it did not open a third
    held.pop().close()
    with engine.connect() as conn:  # the freed connection is handed on
        assert conn.execute(text("SELECT 1")).scalar_one() == 1
    assert _backends(pg_url, name) == 2
    held.pop().close()
    engine.dispose()
