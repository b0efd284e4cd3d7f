"""Session fixtures: real Postgres 15 and Redis 7 servers started in temporary directories."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
import redis
from sqlalchemy.orm import Session

from scripts.devstack.services import PostgresServer, RedisServer, free_port
from scripts.devstack.stack import Stack


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


UNIT_DB = 63  # unit tests get their own Redis database, so they never touch the live stack's


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
    """A running platform: URLs, process handles, its own database, and two tenants."""

    stack: Stack
    api_url: str
    sim_url: str
    db_url: str
    redis_url: str
    env: dict[str, str]
    alice: Tenant = field(init=False)
    bob: Tenant = field(init=False)

    def __post_init__(self) -> None:
        self.alice = self.tenant("alice")
        self.bob = self.tenant("bob")

    def tenant(self, name: str, *, budget: float = 1000.0, concurrency: int = 64) -> Tenant:
        """Create a tenant in this stack's database."""
        return make_tenant(name, budget=budget, concurrency=concurrency, url=self.db_url)

    def session(self) -> AbstractContextManager[Session]:
        """A committing session on this stack's database."""
        from storage.db import session_scope

        return session_scope(self.db_url)

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

    def close(self) -> None:
        """Stop every process of this stack, printing tracebacks from their logs."""
        self.stack.stop_all()
        for path in sorted(self.stack.run_dir.glob("*.log")):
            tail = self.stack.log_tail(path.stem, 20)
            if "Traceback" in tail:
                print(f"--- {path.stem} log tail ---\n{tail}")


def make_tenant(
    name: str, *, budget: float = 1000.0, concurrency: int = 64, url: str | None = None
) -> Tenant:
    """Create a tenant through the storage layer (the CLI calls the same functions)."""
    from storage.db import session_scope
    from storage.tenants import create_tenant, issue_key

    with session_scope(url) as session:
        tenant = create_tenant(
            session=session,
            name=f"{name}-{uuid.uuid4().hex[:6]}",
            monthly_budget_usd=Decimal(str(budget)),
            concurrency=concurrency,
        )
        key = issue_key(session=session, tenant_id=tenant.id)
        return Tenant(id=str(tenant.id), api_key=key, name=tenant.name)


def write_test_config(path: Path, overrides: dict[str, dict[str, Any]]) -> Path:
    """Copy the default TOML with some tables' keys replaced (nested tables merge)."""
    import tomllib

    import tomli_w

    from schemas.config import DEFAULT_CONFIG

    def merge(base: dict[str, Any], extra: dict[str, Any]) -> None:
        for key, value in extra.items():
            if isinstance(value, dict) and isinstance(base.get(key), dict):
                merge(base[key], value)
            else:
                base[key] = value

    data = tomllib.loads(DEFAULT_CONFIG.read_text())
    merge(data, overrides)
    path.write_text(tomli_w.dumps(data))
    return path


TEST_OVERRIDES: dict[str, dict[str, Any]] = {
    "retry": {"base_delay_s": 0.02, "max_delay_s": 0.5, "max_wall_s": 60.0},
    "dispatch": {"poll_interval_s": 0.5, "stuck_queued_s": 5, "requeue_running_grace_s": 1},
    "semaphore": {"lease_ttl_s": 5.0, "heartbeat_s": 1.0},
    "breaker": {"cooldown_s": 2.0},
}


@dataclass
class WorkerSpec:
    """One worker process of a test stack."""

    name: str = "worker1"
    tiers: str = "low,medium,high"
    concurrency: int = 16


StackFactory = Callable[..., LiveStack]


@pytest.fixture(scope="session")
def stack_factory(
    tmp_path_factory: pytest.TempPathFactory, pg_server: PostgresServer, redis_url: str
) -> Iterator[StackFactory]:
    """Build isolated stacks: each gets a fresh Postgres database and its own Redis DB number.

    Call it as `stack_factory(name="caps", overrides={...}, workers=[WorkerSpec(...)],
    sim_latency_ms=0)`; call `.close()` on the result when done (module fixtures do).
    """
    from storage.migrate import upgrade

    made: list[LiveStack] = []
    redis_dbs = iter(range(1, UNIT_DB))

    def make(
        *,
        name: str,
        overrides: dict[str, dict[str, Any]] | None = None,
        workers: list[WorkerSpec] | None = None,
        sim_latency_ms: int = 0,
        scheduler: bool = True,
        extra_env: dict[str, str] | None = None,
    ) -> LiveStack:
        db_name = f"dq_{name}_{uuid.uuid4().hex[:6]}"
        with psycopg.connect(pg_server.url.replace("+psycopg", ""), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{db_name}"')
        db_url = pg_server.url.rsplit("/", 1)[0] + f"/{db_name}"
        upgrade(url=db_url)
        stack_redis = redis_url.rsplit("/", 1)[0] + f"/{next(redis_dbs)}"
        run_dir = tmp_path_factory.mktemp(f"stack-{name}")
        config = write_test_config(
            run_dir / "docqueue.toml", {**TEST_OVERRIDES, **(overrides or {})}
        )
        sim_port = free_port()
        env = {
            "DATABASE_URL": db_url,
            "REDIS_URL": stack_redis,
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
            if scheduler:
                stack.scheduler()
            for spec in workers if workers is not None else [WorkerSpec()]:
                stack.worker(name=spec.name, tiers=spec.tiers, concurrency=spec.concurrency)
            live = LiveStack(stack, api_url, sim_url, db_url, stack_redis, env)
        except BaseException:
            stack.stop_all()
            raise
        made.append(live)
        return live

    yield make
    for live in made:
        live.close()


@pytest.fixture(scope="session")
def live(stack_factory: StackFactory) -> LiveStack:
    """The shared stack: simulator, API, one worker for every tier and the scheduler."""
    return stack_factory(name="live")


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
        resp = client.get(f"/v1/jobs/{job_id}")
        if resp.status_code == 429:  # rate limited: poll again later
            return None
        assert resp.status_code == 200, f"GET /v1/jobs/{job_id}: {resp.status_code} {resp.text}"
        body: dict[str, Any] = resp.json()
        return body if body["status"] in ("succeeded", "failed", "cancelled") else None

    result: dict[str, Any] = wait_for(done, timeout=timeout)
    return result
