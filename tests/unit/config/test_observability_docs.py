"""The shipped Grafana dashboard and Prometheus rules parse and only use exported metrics."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
import yaml
from prometheus_client.metrics import MetricWrapperBase

from schemas.config import Settings
from tasks.observability import metrics
from tasks.observability.collector import StateCollector
from tests.support.paths import REPO

DOCS = REPO / "docs"
NAME = re.compile(r"\bdocqueue_[a-z0-9_]+")
SUFFIXES = {
    "counter": ("_total",),
    "histogram": ("_bucket", "_count", "_sum"),
    "gauge": ("",),
}


def exported() -> set[str]:
    """Every sample name the workers and the API can export."""
    families = list(StateCollector(Settings()).describe())  # describe() touches no server
    for item in vars(metrics).values():
        if isinstance(item, MetricWrapperBase):
            families.extend(item.describe())
    return {f.name + suffix for f in families for suffix in SUFFIXES[f.type]}


def _rules() -> list[dict[str, Any]]:
    loaded = yaml.safe_load((DOCS / "prometheus-alerts.yml").read_text())
    return [rule for group in loaded["groups"] for rule in group["rules"]]


def _panel_exprs() -> list[str]:
    dashboard = json.loads((DOCS / "grafana-dashboard.json").read_text())
    return [target["expr"] for panel in dashboard["panels"] for target in panel.get("targets", [])]


def test_alert_rules_parse_and_each_has_a_name_expression_severity_and_summary() -> None:
    rules = _rules()
    assert len({r["alert"] for r in rules}) == len(rules)
    for rule in rules:
        assert rule["expr"].strip()
        assert rule["labels"]["severity"] in ("info", "warning", "critical")
        assert rule["annotations"]["summary"]


def test_alerts_cover_latency_errors_budget_and_a_stalled_queue() -> None:
    exprs = {r["alert"]: r["expr"] for r in _rules()}
    assert "histogram_quantile(0.95" in exprs["DocqueueProviderLatencyP95High"]
    assert "docqueue_provider_calls_total" in exprs["DocqueueProviderErrorRateHigh"]
    assert "docqueue_budget_utilisation_ratio" in exprs["DocqueueBudgetNearLimit"]
    assert ">= 0.9" in exprs["DocqueueBudgetNearLimit"]
    stalled = exprs["DocqueueQueueStalled"]
    assert "docqueue_queue_depth" in stalled
    assert "docqueue_jobs_finished_total" in stalled


@pytest.mark.parametrize("source", ["alerts", "dashboard"])
def test_every_metric_the_docs_query_is_one_docqueue_exports(source: str) -> None:
    exprs = [r["expr"] for r in _rules()] if source == "alerts" else _panel_exprs()
    assert exprs
    used = {name for expr in exprs for name in NAME.findall(expr)}
    assert used
    assert used - exported() == set()


def test_the_dashboard_shows_every_exported_metric_family() -> None:
    used = {name for expr in _panel_exprs() for name in NAME.findall(expr)}
    families = {re.sub(r"_(total|bucket|count|sum)$", "", n) for n in exported()}
    shown = {re.sub(r"_(total|bucket|count|sum)$", "", n) for n in used}
    assert families - shown <= {"docqueue_metrics_source_up", "docqueue_breaker_opened"}
