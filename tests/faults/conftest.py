"""Fault tests get their own Postgres and Redis, so restarting or flushing them (and the
load they put on) disturbs no other stack of the session."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import psycopg
import pytest

from scripts.devstack.services import PostgresServer, RedisServer, free_port
from scripts.devstack.stack import Stack
from tests.conftest import TEST_OVERRIDES, LiveStack, WorkerSpec, write_test_config

FaultStackFactory = Callable[..., LiveStack]


@dataclass
class FaultServers:
    """The module's private servers: tests may restart, flush or stop them."""

    pg: PostgresServer
    redis: RedisServer


@pytest.fixture(scope="module")
def fault_servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FaultServers]:
    """A Postgres and a Redis for this module only."""
    pg = PostgresServer(data_dir=tmp_path_factory.mktemp("fault-pg") / "data", port=free_port())
    redis = RedisServer(data_dir=tmp_path_factory.mktemp("fault-redis"), port=free_port())
    pg.start()
    try:
        redis.start()
        yield FaultServers(pg, redis)
    finally:
        redis.stop()
        pg.destroy()


@pytest.fixture
def fault_stack(
    fault_servers: FaultServers, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[FaultStackFactory]:
    """Build stacks on the module's servers (same shape as `stack_factory`); closed after."""
    from storage.migrate import upgrade

    made: list[LiveStack] = []

    def make(
        *,
        name: str,
        overrides: dict[str, dict[str, Any]] | None = None,
        workers: list[WorkerSpec] | None = None,
        sim_latency_ms: int = 0,
        extra_env: dict[str, str] | None = None,
    ) -> LiveStack:
        pg = fault_servers.pg
        db_name = f"dq_{name}_{uuid.uuid4().hex[:6]}"
        with psycopg.connect(pg.url.replace("+psycopg", ""), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{db_name}"')
        db_url = pg.url.rsplit("/", 1)[0] + f"/{db_name}"
        upgrade(url=db_url)
        run_dir = tmp_path_factory.mktemp(f"faultstack-{name}")
        config = write_test_config(
            run_dir / "docqueue.toml", {**TEST_OVERRIDES, **(overrides or {})}
        )
        sim_port = free_port()
        env = {
            "DATABASE_URL": db_url,
            "REDIS_URL": fault_servers.redis.url,
            "DOCQUEUE_CONFIG": str(config),
            "OPENAI_BASE_URL": f"http://127.0.0.1:{sim_port}/v1",
            "ANTHROPIC_BASE_URL": f"http://127.0.0.1:{sim_port}",
            "OPENAI_API_KEY": "sk-test",
            "ANTHROPIC_API_KEY": "sk-ant-test",
            **(extra_env or {}),
        }
        stack = Stack(run_dir=run_dir, env=env)
        try:
            sim_url = stack.simulator(port=sim_port, latency_ms=sim_latency_ms)
            api_url = stack.api(port=free_port())
            stack.scheduler()
            for spec in workers if workers is not None else [WorkerSpec()]:
                stack.worker(name=spec.name, tiers=spec.tiers, concurrency=spec.concurrency)
            live = LiveStack(stack, api_url, sim_url, db_url, fault_servers.redis.url, env)
        except BaseException:
            stack.stop_all()
            raise
        made.append(live)
        return live

    yield make
    for live in made:
        live.close()
