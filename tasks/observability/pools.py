"""This process's Postgres pools and connection faults, read at scrape time.

Unlike the API's platform state (collector.py), these are per process: each worker's
/metrics and each API process's /metrics report their own pool, labelled with the process
kind (api, worker, scheduler, cli). `docqueue_db_pool_capacity` is the bound the pool never
exceeds, so `checked_out / capacity` near 1 means threads are queueing for a connection.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import REGISTRY
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from storage.db import pool_status
from storage.retrying import KINDS, connection_errors


def _families() -> tuple[
    GaugeMetricFamily, GaugeMetricFamily, GaugeMetricFamily, CounterMetricFamily
]:
    labels = ["process"]
    return (
        GaugeMetricFamily(
            "docqueue_db_pool_checked_out",
            "Postgres connections this process has checked out of its pool now.",
            labels=labels,
        ),
        GaugeMetricFamily(
            "docqueue_db_pool_overflow",
            "Connections open beyond pool_size (at most max_overflow).",
            labels=labels,
        ),
        GaugeMetricFamily(
            "docqueue_db_pool_capacity",
            "The most connections this process's pools may hold (pool_size + max_overflow).",
            labels=labels,
        ),
        CounterMetricFamily(
            "docqueue_db_connection_errors",
            "Postgres connection faults by kind: too_many_clients, refused, dropped, pool_timeout.",
            labels=[*labels, "kind"],
        ),
    )


def describe_pools() -> list[Metric]:
    """The families, without reading anything (for registration)."""
    return list(_families())


def collect_pools() -> list[Metric]:
    """The families with this process's values now."""
    checked_out, overflow, capacity, errors = _families()
    status = pool_status()
    checked_out.add_metric([status.kind], float(status.checked_out))
    overflow.add_metric([status.kind], float(status.overflow))
    capacity.add_metric([status.kind], float(status.capacity))
    counts = connection_errors()
    for kind in KINDS:  # every kind, zeros included, so rate() sees the first fault
        errors.add_metric([status.kind, kind], float(counts.get(kind, 0)))
    return [checked_out, overflow, capacity, errors]


class PoolCollector(Collector):
    """prometheus_client collector over `collect_pools` (a worker's default registry)."""

    def describe(self) -> Iterator[Metric]:
        """The families, without reading the pools."""
        return iter(describe_pools())

    def collect(self) -> Iterator[Metric]:
        """This process's pools and faults now."""
        return iter(collect_pools())


_registered = False


def register_pool_metrics() -> None:
    """Add the pool families to the default registry once (the worker's /metrics)."""
    global _registered  # noqa: PLW0603 - once per process
    if not _registered:
        REGISTRY.register(PoolCollector())
        _registered = True
