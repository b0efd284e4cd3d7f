"""Fault tests get their own Postgres and Redis, so restarting or flushing them (and the
load they put on) disturbs no other stack of the session."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest

from tests.support.stacks import FaultServers, FaultStackFactory


@pytest.fixture(scope="module")
def fault_servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FaultServers]:
    """A Postgres and a Redis for this module only."""
    servers = FaultServers.under(
        tmp_path_factory.mktemp("fault-pg") / "data", tmp_path_factory.mktemp("fault-redis")
    )
    servers.pg.start()
    try:
        servers.redis.start()
        yield servers
    finally:
        servers.redis.stop()
        servers.pg.destroy()


@pytest.fixture
def fault_stack(
    fault_servers: FaultServers, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[FaultStackFactory]:
    """Build stacks on the module's servers (same shape as `stack_factory`); closed after."""
    factory = FaultStackFactory.on(
        fault_servers,
        tmp_path_factory,
        dir_prefix="faultstack",
        redis_dbs=itertools.repeat(0),  # every stack on database 0, the one tests flush
    )
    yield factory
    factory.close_all()
