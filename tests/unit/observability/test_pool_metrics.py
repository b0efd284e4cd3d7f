"""Each process reports its own pool and connection faults, labelled with its kind."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, generate_latest

from schemas.config import Settings
from storage.db import get_engine, process_kind
from storage.retrying import note_error
from tasks.observability.pools import PoolCollector

UNUSED_URL = "postgresql+psycopg://nobody@127.0.0.1:1/pool_metrics"  # never connected to


def _scrape() -> dict[str, float]:
    registry = CollectorRegistry()
    registry.register(PoolCollector())
    samples = {}
    for line in generate_latest(registry).decode().splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            samples[name] = float(value)
    return samples


def test_a_process_reports_its_pool_bound_and_its_connection_faults_by_kind() -> None:
    get_engine(UNUSED_URL)  # an engine exists; engines connect only when used
    kind = process_kind()
    before = _scrape()
    note_error("too_many_clients")
    after = _scrape()
    most = Settings().app.pools.for_kind(kind).most
    assert after[f'docqueue_db_pool_capacity{{process="{kind}"}}'] >= most
    assert after[f'docqueue_db_pool_overflow{{process="{kind}"}}'] == 0
    errors = f'docqueue_db_connection_errors_total{{kind="too_many_clients",process="{kind}"}}'
    assert after[errors] == before[errors] + 1
    assert f'docqueue_db_connection_errors_total{{kind="refused",process="{kind}"}}' in after
