"""Session fixtures: real Postgres 15 and Redis 7 servers started in temporary directories.

The helpers the tests call (stacks, tenants, waits, seeding) live in tests/support/.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
import redis

from scripts.devstack.builder import Servers
from scripts.devstack.pgbouncer import PgBouncerServer
from scripts.devstack.ports import free_port
from scripts.devstack.postgres import PostgresServer
from scripts.devstack.redis import RedisServer
from tests.support.stacks import LiveStack, StackFactory


@pytest.fixture(scope="session")
def pg_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PostgresServer]:
    """A migrated Postgres for the whole session."""
    from storage.migrate import upgrade

    server = PostgresServer(data_dir=tmp_path_factory.mktemp("pg") / "data", port=free_port())
    server.start()
    upgrade(url=server.url)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """A Redis for the whole session."""
    server = RedisServer(data_dir=tmp_path_factory.mktemp("redis"), port=free_port())
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def pgbouncer(pg_server: PostgresServer) -> Iterator[PgBouncerServer]:
    """A PgBouncer in transaction mode in front of the session's Postgres."""
    server = PgBouncerServer(port=free_port(), pg_port=pg_server.port)
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def pg_url(pg_server: PostgresServer) -> str:
    """SQLAlchemy URL of the session's Postgres."""
    return pg_server.url


@pytest.fixture(scope="session")
def redis_url(redis_server: RedisServer) -> str:
    """URL of the session's Redis."""
    return redis_server.url


@pytest.fixture(scope="session")
def service_env(pg_url: str, redis_url: str) -> Iterator[dict[str, str]]:
    """Point this process's settings at the session's servers."""
    from schemas.config import get_settings

    env = {"DATABASE_URL": pg_url, "REDIS_URL": redis_url}
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    get_settings.cache_clear()
    yield env
    for key, value in old.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    get_settings.cache_clear()


UNIT_DB = 63  # unit tests get their own Redis database, so they never touch the live stack's


@pytest.fixture
def unit_redis_url(redis_server: RedisServer) -> str:
    """The session Redis, on the database reserved for unit tests."""
    return redis_server.database_url(UNIT_DB)


@pytest.fixture
def redis_client(unit_redis_url: str) -> Iterator[redis.Redis]:
    """A client on a freshly flushed unit-test database."""
    client = redis.Redis.from_url(unit_redis_url)
    client.flushdb()
    yield client
    client.close()


@pytest.fixture(scope="session")
def stack_factory(
    tmp_path_factory: pytest.TempPathFactory, pg_server: PostgresServer, redis_server: RedisServer
) -> Iterator[StackFactory]:
    """Build isolated stacks: each gets a fresh Postgres database and its own Redis DB number.

    Call it as `stack_factory(name="caps", overrides={...}, workers=[WorkerSpec(...)],
    sim_latency_ms=0)`; call `.close()` on the result when done (module fixtures do).
    """
    factory = StackFactory.on(
        Servers(pg_server, redis_server),
        tmp_path_factory,
        dir_prefix="stack",
        redis_dbs=iter(range(1, UNIT_DB)),
    )
    yield factory
    factory.close_all()


@pytest.fixture(scope="session")
def live(stack_factory: StackFactory) -> LiveStack:
    """The shared stack: simulator, API, one worker for every tier and the scheduler."""
    return stack_factory(name="live")
