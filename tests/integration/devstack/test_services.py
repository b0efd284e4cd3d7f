"""scripts.devstack starts real Postgres and Redis servers in temporary directories."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import redis

from scripts.devstack.install import ensure_redis_installed
from scripts.devstack.ports import free_port
from scripts.devstack.postgres import PostgresServer
from scripts.devstack.redis import RedisServer


def _connect(pg: PostgresServer) -> psycopg.Connection[tuple[object, ...]]:
    return psycopg.connect(
        host="127.0.0.1", port=pg.port, user=pg.user, dbname=pg.db, connect_timeout=5
    )


@pytest.fixture
def fresh_pg(tmp_path: Path) -> Iterator[PostgresServer]:
    server = PostgresServer(data_dir=tmp_path / "pg", port=free_port())
    try:
        yield server
    finally:
        server.destroy()


@pytest.fixture
def fresh_redis(tmp_path: Path) -> Iterator[RedisServer]:
    ensure_redis_installed()
    server = RedisServer(data_dir=tmp_path / "redis", port=free_port())
    try:
        yield server
    finally:
        server.stop()


def test_postgres_starts_in_a_temp_dir_and_accepts_queries(fresh_pg: PostgresServer) -> None:
    pg = fresh_pg
    pg.start()

    assert pg.is_running()
    assert pg.url == f"postgresql+psycopg://docqueue@127.0.0.1:{pg.port}/docqueue"
    with _connect(pg) as conn:
        assert conn.execute("select 1").fetchone() == (1,)
        rows = conn.execute(
            "select name, setting from pg_settings where name in "
            "('fsync', 'max_connections', 'listen_addresses')"
        ).fetchall()
    settings = {str(name): str(value) for name, value in rows}
    assert settings == {"fsync": "off", "max_connections": "100", "listen_addresses": "127.0.0.1"}

    pg.start()  # idempotent: already running
    assert pg.is_running()
    pg.stop()
    assert not pg.is_running()


def test_redis_starts_in_a_temp_dir_and_answers_ping(fresh_redis: RedisServer) -> None:
    fresh_redis.start()

    client = redis.Redis.from_url(fresh_redis.url)
    try:
        assert client.ping() is True
        client.set("k", "v")
        fresh_redis.flushall()
        assert client.get("k") is None
        fresh_redis.start()  # idempotent: already running
    finally:
        client.close()
    assert fresh_redis.is_running()
    fresh_redis.stop()
    assert not fresh_redis.is_running()


def test_restart_keeps_postgres_data(fresh_pg: PostgresServer) -> None:
    pg = fresh_pg
    pg.start()
    with _connect(pg) as conn:
        conn.execute("create table kept (v text)")
        conn.execute("insert into kept values ('survives')")

    pg.restart()

    assert pg.is_running()
    with _connect(pg) as conn:
        assert conn.execute("select v from kept").fetchall() == [("survives",)]
