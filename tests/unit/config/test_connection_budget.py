"""The default pools keep the Procfile's whole stack inside a stock Postgres's connections."""

from __future__ import annotations

import re

from schemas.config import PoolConfig, ProcessKind, Settings
from tests.support.paths import REPO

STACK_BUDGET = 80  # a stock max_connections (100) less a reserve for psql, migrations, CLI
SCHEDULER_LISTEN = 1  # the scheduler's LISTEN connection lives outside its pool


def _procfile_processes() -> dict[ProcessKind, int]:
    """How many processes of each kind the Procfile starts that talk to Postgres."""
    counts: dict[ProcessKind, int] = {"api": 0, "worker": 0, "scheduler": 0}
    for line in (REPO / "Procfile").read_text().splitlines():
        name, _, command = line.partition(":")
        if "uvicorn api.main:app" in command:
            workers = re.search(r"--workers (\d+)", command)
            counts["api"] += int(workers.group(1)) if workers else 1
        elif "docqueue worker" in command or "docqueue webhooks" in command:  # Celery workers
            counts["worker"] += 1
        elif "docqueue scheduler" in command or "docqueue batcher" in command:
            counts["scheduler"] += 1  # the batcher takes the scheduler's small pool
        else:
            assert name.strip() in ("flower", "simulator"), f"unknown process {name!r}"
    return counts


def test_the_procfile_stack_fits_in_80_connections_with_the_default_pools() -> None:
    pools = Settings().app.pools
    processes = _procfile_processes()
    # 3 tiers and webhooks; the scheduler and the batcher
    assert processes == {"api": 2, "worker": 4, "scheduler": 2}
    most = sum(n * pools.for_kind(kind).most for kind, n in processes.items())
    most += SCHEDULER_LISTEN  # the scheduler's alone: the batcher does not LISTEN
    assert most <= STACK_BUDGET


def test_the_long_running_processes_queue_for_a_connection_instead_of_opening_more() -> None:
    pools = Settings().app.pools
    for kind in ("api", "worker", "scheduler"):
        pool: PoolConfig = pools.for_kind(kind)
        assert pool.max_overflow == 0, kind
        assert 0 < pool.pool_timeout_s <= 30, kind
