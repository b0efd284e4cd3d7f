"""The benchmark's private world: Postgres, Redis and docqueue stacks in one temp dir.

Everything listens on 127.0.0.1 and everything started here is stopped by `close()`,
which `scripts/bench/main.py` calls from `finally` (Ctrl-C, errors and the time bound
included).  Stacks are launched by the same builder the end-to-end tests use.
"""

from __future__ import annotations

import contextlib
import itertools
import shutil
import tempfile
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scripts.devstack.builder import (
    RunningStack,
    Servers,
    StackBuilder,
    Tenant,
    WorkerSpec,
    new_tenant,
)
from scripts.devstack.install import ensure_redis_installed

# Short timings so a lost message or a dead worker cannot stall a run for minutes.
BASE_OVERRIDES: dict[str, Any] = {
    "dispatch": {"poll_interval_s": 0.05, "max_outstanding": 4096},
    "retry": {"base_delay_s": 0.05, "max_delay_s": 1.0},
}
BENCH_ENV = {
    "OPENAI_API_KEY": "sk-bench",
    "ANTHROPIC_API_KEY": "sk-ant-bench",
    # The per-tenant request limit is a policy, not a cost: keep it out of the way.
    "API_RATE_PER_S": "1000000",
    "API_BURST": "1000000",
}


def _private_root() -> Path:
    """A new temp dir the `postgres` user may traverse (so no /tmp fallback is needed)."""
    root = Path(tempfile.mkdtemp(prefix="docqueue-bench-"))
    root.chmod(0o755)
    return root


@dataclass
class BenchStack(RunningStack):
    """One running docqueue: its processes, database, Redis DB and URLs."""

    @property
    def pg_dsn(self) -> str:
        """The database URL for psycopg (no SQLAlchemy driver suffix)."""
        return self.db_url.replace("+psycopg", "")

    def tenant(self, *, concurrency: int, budget_usd: float = 1e7) -> Tenant:
        """Create a tenant with a key in this stack's database."""
        return new_tenant(
            self.db_url,
            name=f"bench-{uuid.uuid4().hex[:8]}",
            budget_usd=budget_usd,
            concurrency=concurrency,
        )


@dataclass
class BenchEnv:
    """Servers and stacks of one benchmark run, all under `root`."""

    root: Path = field(default_factory=_private_root)
    builder: StackBuilder | None = None

    def start(self) -> None:
        """Start Postgres and Redis on free ports."""
        ensure_redis_installed()
        servers = Servers.under(self.root / "pg", self.root / "redis")
        self.builder = StackBuilder(
            servers=servers,
            run_dirs=lambda name: self.root / "logs" / name,
            redis_dbs=itertools.count(1),
            db_prefix="bench",
            base_env=BENCH_ENV,
        )
        servers.pg.start()
        servers.redis.start()

    def _started(self) -> StackBuilder:
        if self.builder is None:
            raise RuntimeError("start() first")
        return self.builder

    def database(self, name: str) -> str:
        """A fresh migrated database of the bench's Postgres; its SQLAlchemy URL."""
        return self._started().database(name)

    def redis_url(self) -> str:
        """A fresh Redis database number of the bench's server."""
        return self._started().redis_db_url()

    def stack(
        self,
        name: str,
        *,
        overrides: dict[str, Any] | None = None,
        workers: Sequence[tuple[str, int]] = (),
        scheduler: bool = True,
        sim_latency_ms: int = 0,
        api_workers: int = 2,
    ) -> BenchStack:
        """Start simulator, API, scheduler and workers ((name, threads) pairs) on a new DB."""
        return self._started().build(
            BenchStack,
            name=name,
            workers=[WorkerSpec(name=n, concurrency=threads) for n, threads in workers],
            config=[BASE_OVERRIDES, overrides or {}],
            sim_latency_ms=sim_latency_ms,
            scheduler=scheduler,
            api_workers=api_workers,
        )

    def close(self, *, keep_logs: bool = False) -> None:
        """Stop every stack and server and delete the temp dir (logs kept on request)."""
        if self.builder is not None:
            with contextlib.suppress(Exception):
                self.builder.close_all()
            for server in (self.builder.servers.redis, self.builder.servers.pg):
                with contextlib.suppress(Exception):
                    server.stop()
        if keep_logs:
            return
        for _ in range(3):
            shutil.rmtree(self.root, ignore_errors=True)
            if not self.root.exists():
                return
            time.sleep(0.2)
