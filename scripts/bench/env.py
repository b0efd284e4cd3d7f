"""The benchmark's private world: Postgres, Redis and docqueue stacks in one temp dir.

Everything listens on 127.0.0.1 and everything started here is stopped by `close()`,
which `scripts/bench.py` calls from `finally` (Ctrl-C, errors and the time bound included).
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
import time
import tomllib
import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import psycopg
import tomli_w

from scripts.devstack.services import PostgresServer, RedisServer, ensure_redis_installed, free_port
from scripts.devstack.stack import Stack

# Short timings so a lost message or a dead worker cannot stall a run for minutes.
BASE_OVERRIDES: dict[str, Any] = {
    "dispatch": {"poll_interval_s": 0.05, "max_outstanding": 4096},
    "retry": {"base_delay_s": 0.05, "max_delay_s": 1.0},
}


def _private_root() -> Path:
    """A new temp dir the `postgres` user may traverse (so no /tmp fallback is needed)."""
    root = Path(tempfile.mkdtemp(prefix="docqueue-bench-"))
    root.chmod(0o755)
    return root


def merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    """Merge `extra` into `base` in place (nested tables merge) and return `base`."""
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            merge(base[key], value)
        else:
            base[key] = value
    return base


@dataclass
class BenchTenant:
    """A tenant created for a scenario."""

    id: str
    api_key: str


@dataclass
class BenchStack:
    """One running docqueue: its processes, database, Redis DB and URLs."""

    stack: Stack
    db_url: str
    redis_url: str
    api_url: str
    sim_url: str

    @property
    def pg_dsn(self) -> str:
        """The database URL for psycopg (no SQLAlchemy driver suffix)."""
        return self.db_url.replace("+psycopg", "")

    def tenant(self, *, concurrency: int, budget_usd: float = 1e7) -> BenchTenant:
        """Create a tenant with a key in this stack's database."""
        from storage.db import session_scope
        from storage.tenants import create_tenant, issue_key

        with session_scope(self.db_url) as session:
            tenant = create_tenant(
                session=session,
                name=f"bench-{uuid.uuid4().hex[:8]}",
                monthly_budget_usd=Decimal(str(budget_usd)),
                concurrency=concurrency,
            )
            key = issue_key(session=session, tenant_id=tenant.id)
            return BenchTenant(id=str(tenant.id), api_key=key)

    def client(self, tenant: BenchTenant, *, timeout: float = 60.0) -> httpx.Client:
        """A keep-alive HTTP client for the API acting as `tenant`."""
        return httpx.Client(
            base_url=self.api_url,
            headers={"Authorization": f"Bearer {tenant.api_key}"},
            timeout=timeout,
        )

    def sim(self, path: str, payload: dict[str, Any] | None = None) -> dict[str, Any]:
        """GET (or POST `payload` to) a simulator control endpoint."""
        url = f"{self.sim_url}{path}"
        resp = httpx.get(url, timeout=10) if payload is None else httpx.post(url, json=payload)
        resp.raise_for_status()
        body: dict[str, Any] = resp.json()
        return body

    def close(self) -> None:
        """Stop every process of this stack."""
        self.stack.stop_all()


@dataclass
class BenchEnv:
    """Servers and stacks of one benchmark run, all under `root`."""

    root: Path = field(default_factory=_private_root)
    pg: PostgresServer | None = None
    redis: RedisServer | None = None
    stacks: list[BenchStack] = field(default_factory=list)
    _redis_dbs: int = 0

    def start(self) -> None:
        """Start Postgres and Redis on free ports."""
        ensure_redis_installed()
        self.pg = PostgresServer(data_dir=self.root / "pg", port=free_port())
        self.pg.start()
        self.redis = RedisServer(data_dir=self.root / "redis", port=free_port())
        self.redis.start()

    def redis_url(self) -> str:
        """A fresh Redis database number of the bench's server."""
        if self.redis is None:
            raise RuntimeError("start() first")
        self._redis_dbs += 1
        return self.redis.url.rsplit("/", 1)[0] + f"/{self._redis_dbs}"

    def database(self, name: str) -> str:
        """Create and migrate a fresh database; returns its SQLAlchemy URL."""
        from storage.migrate import upgrade

        if self.pg is None:
            raise RuntimeError("start() first")
        db = f"bench_{name}_{uuid.uuid4().hex[:6]}"
        with psycopg.connect(self.pg.url.replace("+psycopg", ""), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{db}"')
        url = self.pg.url.rsplit("/", 1)[0] + f"/{db}"
        upgrade(url=url)
        return url

    def config(self, name: str, overrides: dict[str, Any]) -> Path:
        """Write the default TOML with `overrides` merged in; returns its path."""
        from schemas.config import DEFAULT_CONFIG

        data = merge(tomllib.loads(DEFAULT_CONFIG.read_text()), BASE_OVERRIDES)
        merge(data, overrides)
        path = self.root / f"{name}.toml"
        path.write_text(tomli_w.dumps(data))
        return path

    def stack(
        self,
        name: str,
        *,
        overrides: dict[str, Any] | None = None,
        workers: list[tuple[str, int]] = (),  # type: ignore[assignment]
        scheduler: bool = True,
        sim_latency_ms: int = 0,
        api_workers: int = 2,
    ) -> BenchStack:
        """Start simulator, API, scheduler and workers ((name, threads) pairs) on a new DB."""
        db_url = self.database(name)
        sim_port = free_port()
        env = {
            "DATABASE_URL": db_url,
            "REDIS_URL": self.redis_url(),
            "DOCQUEUE_CONFIG": str(self.config(name, overrides or {})),
            "OPENAI_BASE_URL": f"http://127.0.0.1:{sim_port}/v1",
            "ANTHROPIC_BASE_URL": f"http://127.0.0.1:{sim_port}",
            "OPENAI_API_KEY": "sk-bench",
            "ANTHROPIC_API_KEY": "sk-ant-bench",
            # The per-tenant request limit is a policy, not a cost: keep it out of the way.
            "API_RATE_PER_S": "1000000",
            "API_BURST": "1000000",
        }
        stack = Stack(run_dir=self.root / "logs" / name, env=env)
        try:
            sim_url = stack.simulator(port=sim_port, latency_ms=sim_latency_ms)
            api_url = stack.api(port=free_port(), workers=api_workers)
            if scheduler:
                stack.scheduler()
            for worker_name, threads in workers:
                stack.worker(name=worker_name, concurrency=threads)
        except BaseException:
            stack.stop_all()
            raise
        made = BenchStack(stack, db_url, env["REDIS_URL"], api_url, sim_url)
        self.stacks.append(made)
        return made

    def close(self, *, keep_logs: bool = False) -> None:
        """Stop every stack and server and delete the temp dir (logs kept on request)."""
        for made in self.stacks:
            with contextlib.suppress(Exception):
                made.close()
        self.stacks.clear()
        for server in (self.redis, self.pg):
            if server is not None:
                with contextlib.suppress(Exception):
                    server.stop()
        if keep_logs:
            return
        for _ in range(3):
            shutil.rmtree(self.root, ignore_errors=True)
            if not self.root.exists():
                return
            time.sleep(0.2)
