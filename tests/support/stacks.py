"""Test stacks: the shared builder with short timings, two tenants and log tails on close."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from scripts.devstack.builder import (
    Overrides,
    RunningStack,
    Servers,
    StackBuilder,
    WorkerSpec,
    write_config,
)
from tests.support.tenants import Tenant, make_tenant

__all__ = [
    "TEST_OVERRIDES",
    "FaultServers",
    "FaultStackFactory",
    "LiveStack",
    "StackFactory",
    "WorkerSpec",
    "write_test_config",
]

TEST_OVERRIDES: dict[str, dict[str, Any]] = {
    "retry": {"base_delay_s": 0.02, "max_delay_s": 0.5, "max_wall_s": 60.0},
    "dispatch": {"poll_interval_s": 0.5, "stuck_queued_s": 5, "requeue_running_grace_s": 1},
    "semaphore": {"lease_ttl_s": 5.0, "heartbeat_s": 1.0},
    "breaker": {"cooldown_s": 2.0},
}
TEST_ENV = {"OPENAI_API_KEY": "sk-test", "ANTHROPIC_API_KEY": "sk-ant-test"}
FaultServers = Servers  # the fault tests' private pair, which they restart and flush


@dataclass
class LiveStack(RunningStack):
    """A running platform: URLs, process handles, its own database, and two tenants."""

    alice: Tenant = field(init=False)
    bob: Tenant = field(init=False)

    def __post_init__(self) -> None:
        self.alice = self.tenant("alice")
        self.bob = self.tenant("bob")

    def tenant(self, name: str, *, budget: float = 1000.0, concurrency: int = 64) -> Tenant:
        """Create a tenant in this stack's database."""
        return make_tenant(name, budget=budget, concurrency=concurrency, url=self.db_url)

    def client(self, tenant: Tenant | None = None, *, timeout: float = 30.0) -> httpx.Client:
        """An HTTP client for the API, authenticated as `tenant` (alice by default)."""
        return super().client(tenant or self.alice, timeout=timeout)

    def close(self) -> None:
        """Stop every process of this stack, printing tracebacks from their logs."""
        super().close()
        for path in sorted(self.stack.run_dir.glob("*.log")):
            tail = self.stack.log_tail(path.stem, 20)
            if "Traceback" in tail:
                print(f"--- {path.stem} log tail ---\n{tail}")


class StackFactory:
    """Builds isolated LiveStacks on one builder: `stack_factory(name=..., workers=[...])`."""

    def __init__(self, builder: StackBuilder) -> None:
        self.builder = builder

    @classmethod
    def on(
        cls,
        servers: Servers,
        tmp_path_factory: pytest.TempPathFactory,
        *,
        dir_prefix: str,
        redis_dbs: Iterator[int],
    ) -> StackFactory:
        """Stacks on `servers`, logging to new temp dirs, using test keys for the simulator."""
        return cls(
            StackBuilder(
                servers=servers,
                run_dirs=lambda name: tmp_path_factory.mktemp(f"{dir_prefix}-{name}"),
                redis_dbs=redis_dbs,
                base_env=TEST_ENV,
            )
        )

    def __call__(
        self,
        *,
        name: str,
        overrides: Overrides | None = None,
        workers: list[WorkerSpec] | None = None,
        sim_latency_ms: int = 0,
        scheduler: bool = True,
        extra_env: dict[str, str] | None = None,
        webhooks: bool = False,
        batcher: bool = False,
        env_for_db: Callable[[str], dict[str, str]] | None = None,
    ) -> LiveStack:
        """Start a stack; `overrides` replace whole TEST_OVERRIDES tables.

        `webhooks=True` also starts `docqueue webhooks`: tier workers deliver none.
        `batcher=True` also starts `docqueue batcher` (the batch lane).
        """
        made = self.builder.build(
            LiveStack,
            name=name,
            # top-level tables of `overrides` replace TEST_OVERRIDES' whole tables
            config=[{**TEST_OVERRIDES, **(overrides or {})}],
            workers=[WorkerSpec()] if workers is None else workers,
            sim_latency_ms=sim_latency_ms,
            scheduler=scheduler,
            extra_env=extra_env,
            env_for_db=env_for_db,
        )
        if webhooks:
            made.stack.webhooks()
        if batcher:
            made.stack.batcher()
        return made

    def close_all(self) -> None:
        """Close every stack this factory built."""
        self.builder.close_all()


FaultStackFactory = StackFactory


def write_test_config(path: Path, overrides: Overrides) -> Path:
    """Copy the default TOML with some tables' keys replaced (nested tables merge)."""
    return write_config(path, overrides)
