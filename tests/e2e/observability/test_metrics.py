"""Prometheus: a worker's own /metrics and the API's platform /metrics, after real jobs."""

from __future__ import annotations

import datetime as dt
import socket
import uuid
from collections.abc import Iterator
from decimal import Decimal

import httpx
import pytest
import redis
from prometheus_client.parser import text_string_to_metric_families

from schemas.config import Settings
from scripts.devstack.ports import free_port
from storage.budget import periods
from storage.models import TenantSpend
from tasks.flow.killswitch import RedisKillSwitch
from tasks.observability.metrics import PORT_SPAN, serve_worker_metrics
from tests.support.stacks import LiveStack, StackFactory
from tests.support.waits import wait_for, wait_job

pytestmark = pytest.mark.e2e

TOKEN = "scrape-token-for-tests"  # noqa: S105 - a test value
MODELS = ("gpt-5.6-luna", "gpt-5.6-terra", "claude-haiku-5-5", "claude-sonnet-5-5")
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse(text: str) -> Samples:
    """Every sample of a scrape, keyed by (name, labels)."""
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    """One sample's value (KeyError if it is not exported)."""
    return samples[(name, frozenset(labels.items()))]


@pytest.fixture(scope="module")
def measured(stack_factory: StackFactory) -> Iterator[tuple[LiveStack, int]]:
    port = free_port()
    stack = stack_factory(
        name="metrics", extra_env={"METRICS_PORT": str(port), "METRICS_TOKEN": TOKEN}
    )
    yield stack, port
    stack.close()


@pytest.fixture(scope="module")
def jobs(measured: tuple[LiveStack, int]) -> dict[str, dict[str, object]]:
    """One job that succeeds and one the tenant's budget refuses, both on the low tier."""
    live, _ = measured
    broke = live.tenant("broke", budget=0.000001)
    done = {}
    for name, who in (("ok", live.alice), ("broke", broke)):
        with live.client(who) as client:
            created = client.post(
                "/v1/jobs", json={"schema": "document_summary", "tier": "low", "text": "A memo."}
            )
            assert created.status_code == 202, created.text
            done[name] = wait_job(client, created.json()["id"])
    assert done["ok"]["status"] == "succeeded"
    assert done["broke"]["error"]["type"] == "budget_exceeded"
    return done


def _api(live: LiveStack) -> Samples:
    resp = httpx.get(
        f"{live.api_url}/metrics", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10
    )
    assert resp.status_code == 200, resp.text
    return parse(resp.text)


def test_api_metrics_need_the_token_when_one_is_set(measured: tuple[LiveStack, int]) -> None:
    live, _ = measured
    resp = httpx.get(f"{live.api_url}/metrics", timeout=10)
    assert resp.status_code == 401
    assert resp.json()["error"]["type"] == "unauthorized"


def test_worker_metrics_count_calls_tokens_cost_jobs_and_budget_rejections(
    measured: tuple[LiveStack, int], jobs: dict[str, dict[str, object]]
) -> None:
    _, port = measured
    ok = jobs["ok"]
    model, usage = str(ok["model"]), ok["usage"]
    assert isinstance(usage, dict)
    got = parse(httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text)
    assert value(got, "docqueue_provider_calls_total", model=model, outcome="ok") == 1
    assert value(got, "docqueue_provider_call_duration_seconds_count", model=model) == 1
    assert value(got, "docqueue_provider_call_duration_seconds_sum", model=model) > 0
    tokens_in = value(got, "docqueue_provider_tokens_total", model=model, direction="input")
    tokens_out = value(got, "docqueue_provider_tokens_total", model=model, direction="output")
    assert (tokens_in, tokens_out) == (usage["input_tokens"], usage["output_tokens"])
    cost = value(got, "docqueue_provider_cost_usd_total", model=model)
    assert cost == pytest.approx(float(usage["cost_usd"]), rel=1e-6)
    assert value(got, "docqueue_jobs_finished_total", status="succeeded", tier="low") == 1
    assert value(got, "docqueue_jobs_finished_total", status="failed", tier="low") == 1
    assert value(got, "docqueue_budget_rejections_total") >= 1
    labels = {dict(k).get("model") for (name, k) in got if name.startswith("docqueue_")}
    assert not any(str(j) in str(labels) for j in (ok["id"], jobs["broke"]["id"]))


def test_a_second_worker_process_on_the_host_serves_on_the_next_free_port() -> None:
    base = free_port()
    with socket.socket() as taken:  # the first worker on this host holds the base port
        taken.bind(("0.0.0.0", base))  # noqa: S104 - the same bind the metrics server makes
        taken.listen()
        port = serve_worker_metrics(Settings(metrics_port=base))
    assert port is not None
    assert base < port < base + PORT_SPAN
    assert "docqueue_provider_calls" in httpx.get(f"http://127.0.0.1:{port}/metrics").text


def test_api_metrics_report_jobs_queues_semaphores_breakers_and_budgets(
    measured: tuple[LiveStack, int], jobs: dict[str, dict[str, object]]
) -> None:
    live, _ = measured
    heavy = live.tenant("heavy", budget=10.0)
    with live.session() as session:  # 95 % of this month's budget spent
        session.add(
            TenantSpend(
                tenant_id=uuid.UUID(heavy.id),
                period=periods(dt.datetime.now(dt.UTC))[0],
                spent_usd=Decimal("9.5"),
                reserved_usd=Decimal(0),
            )
        )
    got = _api(live)
    assert value(got, "docqueue_jobs", status="succeeded", tier="low") == 1
    assert value(got, "docqueue_jobs", status="failed", tier="low") == 1
    for queue in ("low", "medium", "high", "webhooks"):
        assert value(got, "docqueue_queue_depth", queue=queue) == 0
    for model in MODELS:
        assert value(got, "docqueue_semaphore_slots_in_use", model=model) == 0
        assert value(got, "docqueue_semaphore_lease_expiries_total", model=model) == 0
        assert value(got, "docqueue_breaker_state", model=model) == 0
    assert value(got, "docqueue_budget_utilisation_ratio", period="month") == pytest.approx(0.95)
    assert value(got, "docqueue_budget_tenants_near_limit", period="month") == 1
    assert value(got, "docqueue_webhooks_pending") == 0
    assert value(got, "docqueue_api_rate_limited_total") == 0
    assert value(got, "docqueue_metrics_source_up", source="postgres") == 1
    assert value(got, "docqueue_metrics_source_up", source="redis") == 1


def test_a_job_held_back_shows_as_queued_with_a_growing_oldest_age(
    measured: tuple[LiveStack, int], jobs: dict[str, dict[str, object]]
) -> None:
    live, _ = measured
    switch = RedisKillSwitch(redis.Redis.from_url(live.redis_url))
    switch.set(True, reason="test")  # the scheduler publishes nothing while it is on
    try:
        with live.client() as client:
            created = client.post(
                "/v1/jobs", json={"schema": "invoice", "tier": "medium", "text": "Invoice 7."}
            )
            assert created.status_code == 202, created.text

        def aged() -> Samples | None:
            got = _api(live)
            return (
                got
                if value(got, "docqueue_oldest_queued_job_age_seconds", tier="medium") > 1
                else None
            )

        got = wait_for(aged, timeout=15, every=0.5)
        assert value(got, "docqueue_jobs", status="queued", tier="medium") == 1
        assert value(got, "docqueue_oldest_queued_job_age_seconds", tier="low") == 0
    finally:
        switch.set(False)
    with live.client() as client:
        assert wait_job(client, created.json()["id"])["status"] in ("succeeded", "failed")
