"""Isolated docqueue stacks on shared servers: a fresh database, Redis DB and config each.

The one way a stack is launched for the end-to-end tests (tests/support/stacks.py), the
fault tests (tests/faults/conftest.py) and `make bench` (scripts/bench/env.py): the
simulator, the API, the scheduler and Celery workers, all on 127.0.0.1.
"""

from __future__ import annotations

import tomllib
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

import httpx
import psycopg
import tomli_w
from sqlalchemy.orm import Session

from scripts.devstack.ports import free_port
from scripts.devstack.postgres import PostgresServer
from scripts.devstack.redis import RedisServer
from scripts.devstack.stack import Stack

Overrides = dict[str, Any]


@dataclass
class Servers:
    """A Postgres and a Redis that stacks are built on (callers may restart or flush them)."""

    pg: PostgresServer
    redis: RedisServer

    @classmethod
    def under(cls, pg_dir: Path, redis_dir: Path) -> Servers:
        """Servers keeping their state in these directories, on free ports (not started)."""
        return cls(
            PostgresServer(data_dir=pg_dir, port=free_port()),
            RedisServer(data_dir=redis_dir, port=free_port()),
        )


@dataclass
class WorkerSpec:
    """One worker process of a stack."""

    name: str = "worker1"
    tiers: str = "low,medium,high"
    concurrency: int = 16


@dataclass
class Tenant:
    """A tenant with an API key."""

    id: str
    api_key: str
    name: str


def new_tenant(db_url: str | None, *, name: str, budget_usd: float, concurrency: int) -> Tenant:
    """Create a tenant and issue its key through the storage layer (as the CLI does)."""
    from storage.db import session_scope
    from storage.tenants import create_tenant, issue_key

    with session_scope(db_url) as session:
        tenant = create_tenant(
            session=session,
            name=name,
            monthly_budget_usd=Decimal(str(budget_usd)),
            concurrency=concurrency,
        )
        key = issue_key(session=session, tenant_id=tenant.id)
        return Tenant(id=str(tenant.id), api_key=key, name=tenant.name)


def merge_tables(base: Overrides, extra: Overrides) -> Overrides:
    """Merge `extra` into `base` in place (nested tables merge) and return `base`."""
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            merge_tables(base[key], value)
        else:
            base[key] = value
    return base


def write_config(path: Path, *layers: Overrides) -> Path:
    """Write the default TOML with each layer of overrides merged in, in turn."""
    from schemas.config import DEFAULT_CONFIG

    data = tomllib.loads(DEFAULT_CONFIG.read_text())
    for layer in layers:
        merge_tables(data, layer)
    path.write_text(tomli_w.dumps(data))
    return path


@dataclass
class RunningStack:
    """A launched stack: its processes, URLs, database and Redis DB."""

    stack: Stack
    api_url: str
    sim_url: str
    db_url: str
    redis_url: str
    env: dict[str, str]

    def session(self) -> AbstractContextManager[Session]:
        """A committing session on this stack's database."""
        from storage.db import session_scope

        return session_scope(self.db_url)

    def client(self, tenant: Tenant, *, timeout: float = 30.0) -> httpx.Client:
        """An HTTP client for the API, authenticated as `tenant`."""
        return httpx.Client(
            base_url=self.api_url,
            headers={"Authorization": f"Bearer {tenant.api_key}"},
            timeout=timeout,
        )

    def sim(self, path: str, payload: dict[str, Any] | None = None) -> dict[str, Any]:
        """GET (or POST `payload` to) a simulator control endpoint."""
        url = f"{self.sim_url}{path}"
        if payload is None:
            resp = httpx.get(url, timeout=10)
        else:
            resp = httpx.post(url, json=payload, timeout=10)
        resp.raise_for_status()
        body: dict[str, Any] = resp.json()
        return body

    def close(self) -> None:
        """Stop every process of this stack."""
        self.stack.stop_all()


S = TypeVar("S", bound=RunningStack)


@dataclass
class StackBuilder:
    """Launches stacks on one pair of servers and remembers them for `close_all()`."""

    servers: Servers
    run_dirs: Callable[[str], Path]  # a stack's name -> its (new) log and config directory
    redis_dbs: Iterator[int]  # the Redis database numbers to hand out, in turn
    db_prefix: str = "dq"
    base_env: dict[str, str] = field(default_factory=dict)
    made: list[RunningStack] = field(default_factory=list)

    def database(self, name: str) -> str:
        """Create and migrate a fresh database; return its SQLAlchemy URL."""
        from storage.migrate import upgrade

        pg = self.servers.pg
        db_name = f"{self.db_prefix}_{name}_{uuid.uuid4().hex[:6]}"
        with psycopg.connect(pg.url.replace("+psycopg", ""), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{db_name}"')
        url = pg.database_url(db_name)
        upgrade(url=url)
        return url

    def redis_db_url(self) -> str:
        """The URL of the next Redis database number."""
        return self.servers.redis.database_url(next(self.redis_dbs))

    def build(
        self,
        kind: type[S],
        *,
        name: str,
        workers: Sequence[WorkerSpec],
        config: Sequence[Overrides] = (),
        sim_latency_ms: int = 0,
        scheduler: bool = True,
        api_workers: int = 1,
        extra_env: dict[str, str] | None = None,
        env_for_db: Callable[[str], dict[str, str]] | None = None,
    ) -> S:
        """Start simulator, API, scheduler and `workers` on a new database; return `kind`.

        `env_for_db` maps the new database's direct URL to more environment (e.g. a
        DATABASE_URL through a pooler); the returned stack's `db_url` stays direct.
        """
        db_url = self.database(name)
        redis_url = self.redis_db_url()
        run_dir = self.run_dirs(name)
        run_dir.mkdir(parents=True, exist_ok=True)
        sim_port = free_port()
        env = {
            "DATABASE_URL": db_url,
            "REDIS_URL": redis_url,
            "DOCQUEUE_CONFIG": str(write_config(run_dir / "docqueue.toml", *config)),
            "OPENAI_BASE_URL": f"http://127.0.0.1:{sim_port}/v1",
            "ANTHROPIC_BASE_URL": f"http://127.0.0.1:{sim_port}",
            **self.base_env,
            **(extra_env or {}),
            **(env_for_db(db_url) if env_for_db else {}),
        }
        stack = Stack(run_dir=run_dir, env=env)
        try:
            # Every process starts at once (their imports overlap); then the two that
            # answer HTTP are waited for.
            sim_url = stack.simulator(port=sim_port, latency_ms=sim_latency_ms, wait=False)
            api_url = stack.api(port=free_port(), workers=api_workers, wait=False)
            if scheduler:
                stack.scheduler()
            for spec in workers:
                stack.worker(name=spec.name, tiers=spec.tiers, concurrency=spec.concurrency)
            stack.wait_ready("simulator", sim_url)
            stack.wait_ready("api", api_url)
            # inside the try: `kind` may create tenants, which can fail too
            made = kind(stack, api_url, sim_url, db_url, redis_url, env)
        except BaseException:
            stack.stop_all()
            raise
        self.made.append(made)
        return made

    def close_all(self) -> None:
        """Close every stack built so far; one failing close does not skip the others."""
        made, self.made = self.made, []
        errors: list[Exception] = []
        for running in made:
            try:
                running.close()
            except Exception as exc:  # noqa: BLE001 - re-raised below, after the others
                errors.append(exc)
        if errors:
            raise errors[0]
