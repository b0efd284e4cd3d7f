"""Session fixtures: real Postgres 15 and Redis 7 servers started in temporary directories."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from scripts.services import PostgresServer, RedisServer, free_port
from scripts.stack import Stack


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


UNIT_DB = 15  # unit tests get their own Redis database, so they never touch the live stack's


@pytest.fixture
def unit_redis_url(redis_url: str) -> str:
    """The session Redis, on the database reserved for unit tests."""
    return redis_url.rsplit("/", 1)[0] + f"/{UNIT_DB}"


@pytest.fixture
def redis_client(unit_redis_url: str) -> Iterator[redis.Redis]:
    """A client on a freshly flushed unit-test database."""
    client = redis.Redis.from_url(unit_redis_url)
    client.flushdb()
    yield client
    client.close()


REPO = Path(__file__).resolve().parents[1]


@dataclass
class Tenant:
    """A tenant the tests act as."""

    id: str
    api_key: str
    name: str


@dataclass
class LiveStack:
    """The running platform: URLs, the process handles, and two tenants."""

    stack: Stack
    api_url: str
    sim_url: str
    alice: Tenant
    bob: Tenant
    env: dict[str, str]

    def client(self, tenant: Tenant | None = None) -> httpx.Client:
        """An HTTP client for the API, authenticated as `tenant` (alice by default)."""
        who = tenant or self.alice
        return httpx.Client(
            base_url=self.api_url,
            headers={"Authorization": f"Bearer {who.api_key}"},
            timeout=30.0,
        )

    def sim(self, path: str, payload: dict[str, Any] | None = None) -> dict[str, Any]:
        """GET (or POST with a payload) a simulator control endpoint."""
        if payload is None:
            resp = httpx.get(f"{self.sim_url}{path}", timeout=10)
        else:
            resp = httpx.post(f"{self.sim_url}{path}", json=payload, timeout=10)
        resp.raise_for_status()
        result: dict[str, Any] = resp.json()
        return result


def make_tenant(name: str, *, budget: float = 1000.0, concurrency: int = 64) -> Tenant:
    """Create a tenant through the storage layer (the CLI calls the same functions)."""
    from storage.db import session_scope
    from storage.tenants import create_tenant, issue_key

    with session_scope() as session:
        tenant = create_tenant(
            session=session,
            name=f"{name}-{uuid.uuid4().hex[:6]}",
            monthly_budget_usd=Decimal(str(budget)),
            concurrency=concurrency,
        )
        key = issue_key(session=session, tenant_id=tenant.id)
        return Tenant(id=str(tenant.id), api_key=key, name=tenant.name)


def write_test_config(path: Path, overrides: dict[str, dict[str, Any]]) -> Path:
    """Copy the default TOML with some tables' keys replaced (faster backoff, short deadlines)."""
    import tomllib

    import tomli_w

    from schemas.config import DEFAULT_CONFIG

    data = tomllib.loads(DEFAULT_CONFIG.read_text())
    for table, values in overrides.items():
        data.setdefault(table, {}).update(values)
    path.write_text(tomli_w.dumps(data))
    return path


TEST_OVERRIDES: dict[str, dict[str, Any]] = {
    "retry": {"base_delay_s": 0.02, "max_delay_s": 0.5, "max_wall_s": 60.0},
    "dispatch": {"poll_interval_s": 0.1, "stuck_queued_s": 5, "requeue_running_grace_s": 1},
    "semaphore": {"lease_ttl_s": 5.0, "heartbeat_s": 1.0},
    "breaker": {"cooldown_s": 2.0},
}


@pytest.fixture(scope="session")
def live(
    tmp_path_factory: pytest.TempPathFactory,
    pg_url: str,
    redis_url: str,
    service_env: dict[str, str],
) -> Iterator[LiveStack]:
    """Simulator, API, one worker for every tier and the scheduler, as real processes."""
    run_dir = tmp_path_factory.mktemp("stack")
    config = write_test_config(run_dir / "docqueue.toml", TEST_OVERRIDES)
    sim_port = free_port()
    env = {
        **service_env,
        "DOCQUEUE_CONFIG": str(config),
        "OPENAI_BASE_URL": f"http://127.0.0.1:{sim_port}/v1",
        "ANTHROPIC_BASE_URL": f"http://127.0.0.1:{sim_port}",
        "OPENAI_API_KEY": "sk-test",
        "ANTHROPIC_API_KEY": "sk-ant-test",
    }
    os.environ["DOCQUEUE_CONFIG"] = str(config)
    from schemas.config import get_settings

    get_settings.cache_clear()
    stack = Stack(run_dir=run_dir, env=env)
    try:
        sim_url = stack.simulator(port=sim_port)
        api_url = stack.api(port=free_port())
        stack.scheduler()
        stack.worker(name="worker1", concurrency=16)
        live = LiveStack(stack, api_url, sim_url, make_tenant("alice"), make_tenant("bob"), env)
        yield live
    finally:
        stack.stop_all()
        for name in ("worker1", "scheduler", "api", "simulator"):
            tail = stack.log_tail(name, 15)
            if "Traceback" in tail:
                print(f"--- {name} log tail ---\n{tail}")


def wait_for(predicate: Callable[[], Any], *, timeout: float = 60.0, every: float = 0.2) -> Any:
    """Poll until `predicate` returns something truthy; fail with a timeout otherwise."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(every)
    raise AssertionError(f"condition not met within {timeout} s (last value: {last!r})")


def wait_job(client: httpx.Client, job_id: str, *, timeout: float = 60.0) -> dict[str, Any]:
    """Poll a job until it is terminal and return it."""

    def done() -> dict[str, Any] | None:
        body: dict[str, Any] = client.get(f"/v1/jobs/{job_id}").json()
        return body if body["status"] in ("succeeded", "failed", "cancelled") else None

    result: dict[str, Any] = wait_for(done, timeout=timeout)
    return result
