"""Scrape-time metrics of the whole platform, read from Postgres and Redis (served by the API).

Every value is global, so one endpoint exports it: jobs per status and tier, the oldest
queued job, broker queue depth, semaphore leases, breaker states, budget utilisation,
webhooks owed, API rate-limit rejections. A source that does not answer reports
`docqueue_metrics_source_up{source} 0` instead of failing the scrape.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal

import structlog
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy.orm import Session

from schemas.config import TIERS, Settings
from storage import state
from storage.db import session_scope
from tasks.dispatch.queues import WEBHOOK_QUEUE, queue_name
from tasks.flow.breaker import RedisCircuitBreaker
from tasks.flow.connection import redis_client
from tasks.flow.semaphore import RedisSlotLimiter
from tasks.observability.pools import collect_pools, describe_pools

log = structlog.get_logger(__name__)

RATE_LIMITED_KEY = "dq:api:rl:rejected"  # INCR'd by api/ratelimit.py's script
NEAR_LIMIT = Decimal("0.9")
_KOMBU_SEP, _KOMBU_PRIORITIES = "\x06\x16", (3, 6, 9)  # kombu's redis priority sub-queues
_BREAKER_VALUE = {"closed": 0.0, "half_open": 1.0, "open": 2.0}


Family = GaugeMetricFamily | CounterMetricFamily


def _families() -> dict[str, Family]:
    gauge, counter = GaugeMetricFamily, CounterMetricFamily
    fams: list[Family] = [
        gauge("docqueue_jobs", "Jobs by status and tier.", labels=["status", "tier"]),
        gauge(
            "docqueue_oldest_queued_job_age_seconds",
            "Age of the oldest queued job per tier (0 when none is queued).",
            labels=["tier"],
        ),
        gauge(
            "docqueue_queue_depth",
            "Messages waiting in each broker queue (tiers and webhooks).",
            labels=["queue"],
        ),
        gauge(
            "docqueue_semaphore_slots_in_use",
            "Live leases of each model's global concurrency semaphore.",
            labels=["model"],
        ),
        counter(
            "docqueue_semaphore_lease_expiries",
            "Leases that expired unreleased (their holder died or stalled).",
            labels=["model"],
        ),
        gauge(
            "docqueue_breaker_state",
            "Circuit breaker per model: 0 closed, 1 half-open, 2 open.",
            labels=["model"],
        ),
        counter("docqueue_breaker_opened", "Times each breaker opened.", labels=["model"]),
        gauge(
            "docqueue_budget_utilisation_ratio",
            "Highest (spent + reserved) / budget over all tenants, this month or today.",
            labels=["period"],
        ),
        gauge(
            "docqueue_budget_tenants_near_limit",
            "Tenants at or above 90% of their budget, this month or today.",
            labels=["period"],
        ),
        gauge("docqueue_webhooks_pending", "Webhook deliveries still owed (incl. retrying)."),
        counter("docqueue_api_rate_limited", "API requests answered 429 (all API processes)."),
        gauge(
            "docqueue_metrics_source_up",
            "Whether this scrape could read the source (postgres, redis).",
            labels=["source"],
        ),
    ]
    return {f.name: f for f in fams}


class StateCollector(Collector):
    """A prometheus_client collector that queries Postgres and Redis on every scrape."""

    def __init__(self, settings: Settings, *, db_url: str | None = None) -> None:
        self._settings = settings
        self._db_url = db_url
        self._redis = redis_client(settings.redis_url, socket_timeout=3, socket_connect_timeout=2)
        app = settings.app
        self._limiter = RedisSlotLimiter(
            self._redis,
            lease_ttl_s=app.semaphore.lease_ttl_s,
            heartbeat_s=app.semaphore.heartbeat_s,
            acquire_timeout_s=1.0,
        )
        self._breaker = RedisCircuitBreaker(self._redis, app.breaker)

    def describe(self) -> Iterator[Metric]:
        """The families, without touching Postgres or Redis (used at registration)."""
        return iter([*_families().values(), *describe_pools()])

    def collect(self) -> Iterator[Metric]:
        """Read every source now; a failed source is reported, not raised."""
        fams = _families()
        up = fams["docqueue_metrics_source_up"]
        for source, read in (("postgres", self._postgres), ("redis", self._redis_state)):
            try:
                read(fams)
                up.add_metric([source], 1.0)
            except Exception as exc:  # noqa: BLE001 - a scrape must still answer
                log.warning("metrics_source_failed", source=source, error=repr(exc)[:300])
                up.add_metric([source], 0.0)
        # and this API process's own Postgres pool (per process, unlike the rest)
        return iter([*fams.values(), *collect_pools()])

    def _postgres(self, fams: dict[str, Family]) -> None:
        oldest: dict[str, float] = dict.fromkeys(TIERS, 0.0)
        with session_scope(self._db_url) as session:
            for jobs in state.job_counts(session=session):
                fams["docqueue_jobs"].add_metric([jobs.status, jobs.tier], float(jobs.count))
                if jobs.oldest_queued_s is not None:
                    oldest[jobs.tier] = max(oldest.get(jobs.tier, 0.0), jobs.oldest_queued_s)
            self._budgets(session, fams)
            pending = state.webhooks_pending(session=session)
        fams["docqueue_webhooks_pending"].add_metric([], float(pending))
        for tier, age in oldest.items():
            fams["docqueue_oldest_queued_job_age_seconds"].add_metric([tier], age)

    @staticmethod
    def _budgets(session: Session, fams: dict[str, Family]) -> None:
        worst = {"month": 0.0, "day": 0.0}
        near = {"month": 0, "day": 0}
        for use in state.budget_use(session=session, now=dt.datetime.now(dt.UTC)):
            if not use.budget_usd:  # no daily cap, or a zero budget: nothing to measure against
                continue
            ratio = use.used_usd / use.budget_usd
            worst[use.period] = max(worst[use.period], float(ratio))
            near[use.period] += ratio >= NEAR_LIMIT
        for which in ("month", "day"):
            fams["docqueue_budget_utilisation_ratio"].add_metric([which], worst[which])
            fams["docqueue_budget_tenants_near_limit"].add_metric([which], float(near[which]))

    def _redis_state(self, fams: dict[str, Family]) -> None:
        queues = {t: queue_name(t) for t in TIERS} | {"webhooks": WEBHOOK_QUEUE}
        pipe = self._redis.pipeline(transaction=False)
        for name in queues.values():
            pipe.llen(name)
            for pri in _KOMBU_PRIORITIES:
                pipe.llen(f"{name}{_KOMBU_SEP}{pri}")
        pipe.get(RATE_LIMITED_KEY)
        *lengths, limited = pipe.execute()
        per = 1 + len(_KOMBU_PRIORITIES)
        for i, label in enumerate(queues):
            depth = sum(int(n) for n in lengths[i * per : (i + 1) * per])
            fams["docqueue_queue_depth"].add_metric([label], float(depth))
        fams["docqueue_api_rate_limited"].add_metric([], float(limited or 0))
        for model in self._settings.app.models:
            fams["docqueue_semaphore_slots_in_use"].add_metric(
                [model], float(self._limiter.in_use(model))
            )
            fams["docqueue_semaphore_lease_expiries"].add_metric(
                [model], float(self._limiter.expired_total(model))
            )
            state = _BREAKER_VALUE.get(self._breaker.state(model), 2.0)
            fams["docqueue_breaker_state"].add_metric([model], state)
            fams["docqueue_breaker_opened"].add_metric(
                [model], float(self._breaker.opened_total(model))
            )
