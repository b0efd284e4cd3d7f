"""Debian's Prometheus against a live stack: promtool checks and unit-tests the alerts, and a
real server scrapes the API's and a worker's /metrics and evaluates the rules on them."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from scripts.devstack.ports import free_port
from scripts.devstack.procs import stop_popen
from tests.support.paths import REPO
from tests.support.stacks import LiveStack, StackFactory
from tests.support.waits import wait_for, wait_job

pytestmark = pytest.mark.e2e

ALERTS = REPO / "docs" / "prometheus-alerts.yml"
ALERT_TESTS = REPO / "docs" / "prometheus-alerts.test.yml"
TOKEN = "prometheus-scrape-token"  # noqa: S105 - a test value
# The sample names each metric type exposes (a family without samples still names them).
SUFFIXES = {
    "counter": ("_total", "_created"),
    "histogram": ("_bucket", "_sum", "_count", "_created"),
    "summary": ("", "_sum", "_count", "_created"),
    "info": ("_info",),
}
SELECTOR = re.compile(r"\b(docqueue_\w+)(?:\{([^}]*)\})?")
REQUIRED = {
    "DocqueueProviderLatencyP95High",
    "DocqueueProviderErrorRateHigh",
    "DocqueueBudgetNearLimit",
    "DocqueueQueueStalled",
}


def _tool(name: str) -> str:
    """The path of a Prometheus binary; a clear failure, never a skip, when it is missing."""
    found = shutil.which(name)
    if found is None:
        pytest.fail(
            f"{name} not found: `make test` installs Debian's prometheus package (which ships "
            "prometheus and promtool); or run `apt-get install --no-install-recommends prometheus`"
        )
    return found


def _promtool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [_tool("promtool"), *args], capture_output=True, text=True, timeout=60, check=False
    )


def test_promtool_check_rules_accepts_the_shipped_alerts() -> None:
    done = _promtool("check", "rules", str(ALERTS))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout


def test_promtool_unit_tests_of_the_alerts_pass_and_cover_the_four_required_ones() -> None:
    tests = yaml.safe_load(ALERT_TESTS.read_text())["tests"]
    tested = {case["alertname"] for test in tests for case in test.get("alert_rule_test", [])}
    assert tested >= REQUIRED
    fired = {
        case["alertname"]
        for test in tests
        for case in test.get("alert_rule_test", [])
        if case.get("exp_alerts")
    }
    assert fired >= REQUIRED  # each is shown firing, not only silent
    done = _promtool("test", "rules", str(ALERT_TESTS))
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.fixture(scope="module")
def scraped(stack_factory: StackFactory) -> Iterator[tuple[LiveStack, int]]:
    """A stack whose API wants a scrape token and whose worker serves /metrics."""
    port = free_port()
    stack = stack_factory(
        name="prometheus", extra_env={"METRICS_PORT": str(port), "METRICS_TOKEN": TOKEN}
    )
    yield stack, port
    stack.close()


def _config(api: str, worker: int) -> dict[str, Any]:
    every = {"scrape_interval": "1s", "scrape_timeout": "1s"}
    return {
        "global": {"evaluation_interval": "1s", **every},
        "rule_files": [str(ALERTS)],
        "scrape_configs": [
            {
                "job_name": "docqueue-api",
                "authorization": {"type": "Bearer", "credentials": TOKEN},
                "static_configs": [{"targets": [api]}],
            },
            {
                "job_name": "docqueue-worker",
                "static_configs": [{"targets": [f"127.0.0.1:{worker}"]}],
            },
        ],
    }


@pytest.fixture(scope="module")
def prometheus(
    scraped: tuple[LiveStack, int], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A real Prometheus server in a temp dir, scraping the stack every second; its URL."""
    live, worker_port = scraped
    binary = _tool("prometheus")
    home = tmp_path_factory.mktemp("prometheus")
    config = home / "prometheus.yml"
    config.write_text(yaml.safe_dump(_config(urlsplit(live.api_url).netloc, worker_port)))
    port = free_port()
    with (home / "prometheus.log").open("wb") as log:
        proc = subprocess.Popen(
            [
                binary,
                f"--config.file={config}",
                f"--storage.tsdb.path={home / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--log.level=warn",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: _ready(url, proc, home), timeout=60)
        yield url
    finally:
        stop_popen(proc, timeout=20)


def _ready(url: str, proc: subprocess.Popen[bytes], home: Path) -> bool:
    if proc.poll() is not None:
        raise AssertionError((home / "prometheus.log").read_text(errors="replace")[-3000:])
    try:
        return httpx.get(f"{url}/-/ready", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _query(url: str, expr: str) -> dict[str, float]:
    """An instant query's result as {job label: value}."""
    body = httpx.get(f"{url}/api/v1/query", params={"query": expr}, timeout=10).json()
    assert body["status"] == "success", body
    return {r["metric"].get("job", ""): float(r["value"][1]) for r in body["data"]["result"]}


@pytest.fixture(scope="module")
def job(scraped: tuple[LiveStack, int]) -> dict[str, Any]:
    live, _ = scraped
    with live.client() as client:
        created = client.post(
            "/v1/jobs", json={"schema": "document_summary", "tier": "low", "text": "A memo."}
        )
        assert created.status_code == 202, created.text
        done = wait_job(client, created.json()["id"])
    assert done["status"] == "succeeded", done
    return done


def test_prometheus_scrapes_the_api_with_its_token_and_the_worker(prometheus: str) -> None:
    def both_up() -> dict[str, float] | None:
        up = _query(prometheus, "up")  # the worker answers once it has started
        return up if up == {"docqueue-api": 1.0, "docqueue-worker": 1.0} else None

    wait_for(both_up, timeout=60)
    health = httpx.get(f"{prometheus}/api/v1/targets", timeout=10).json()["data"]
    assert {t["labels"]["job"]: t["lastError"] for t in health["activeTargets"]} == {
        "docqueue-api": "",
        "docqueue-worker": "",
    }


def test_a_finished_job_shows_in_the_worker_and_the_api_series_prometheus_stored(
    prometheus: str, job: dict[str, Any]
) -> None:
    def seen(expr: str) -> dict[str, float]:
        found: dict[str, float] = wait_for(lambda: _query(prometheus, expr), timeout=30)
        return found

    finished = 'sum by (job) (docqueue_jobs_finished_total{status="succeeded",tier="low"})'
    assert seen(finished) == {"docqueue-worker": 1.0}
    calls = f'sum by (job) (docqueue_provider_calls_total{{model="{job["model"]}",outcome="ok"}})'
    assert seen(calls) == {"docqueue-worker": 1.0}
    succeeded = 'sum by (job) (docqueue_jobs{status="succeeded"})'
    assert seen(succeeded) == {"docqueue-api": 1.0}
    assert seen('docqueue_metrics_source_up{source="postgres"}') == {"docqueue-api": 1.0}


def test_prometheus_loads_the_alert_rules_and_evaluates_them_without_errors(
    prometheus: str,
) -> None:
    expected = {
        r["alert"] for g in yaml.safe_load(ALERTS.read_text())["groups"] for r in g["rules"]
    }

    def evaluated() -> list[dict[str, Any]] | None:
        body = httpx.get(f"{prometheus}/api/v1/rules", timeout=10).json()
        rules = [r for g in body["data"]["groups"] for r in g["rules"]]
        done = rules and all(r.get("lastEvaluation", "").startswith("20") for r in rules)
        return rules if done else None

    rules = wait_for(evaluated, timeout=30)
    assert {r["name"] for r in rules} == expected
    assert {r["name"]: r["health"] for r in rules} == dict.fromkeys(expected, "ok")


def _exposition(url: str, **headers: str) -> str | None:
    try:
        answer = httpx.get(url, headers=headers, timeout=10)
    except httpx.HTTPError:
        return None  # the worker serves /metrics once it has started
    return answer.text if answer.status_code == 200 else None


def test_the_alert_rules_select_only_metrics_and_labels_the_live_endpoints_expose(
    scraped: tuple[LiveStack, int], job: dict[str, Any]
) -> None:
    live, worker_port = scraped
    api = _exposition(f"{live.api_url}/metrics", authorization=f"Bearer {TOKEN}")
    worker = wait_for(lambda: _exposition(f"http://127.0.0.1:{worker_port}/metrics"), timeout=60)
    names: set[str] = set()
    labels: dict[str, set[str]] = {}  # labels seen on each sample name
    for family in text_string_to_metric_families(f"{api}\n{worker}"):
        names.update(family.name + end for end in SUFFIXES.get(family.type, ("",)))
        for sample in family.samples:
            labels.setdefault(sample.name, set()).update(sample.labels)
    rules = [r for g in yaml.safe_load(ALERTS.read_text())["groups"] for r in g["rules"]]
    used = [m for r in rules for m in SELECTOR.findall(r["expr"])]
    assert {name for name, _ in used} <= names, {name for name, _ in used} - names
    for name, selector in used:
        keys = set(re.findall(r"(\w+)\s*(?:=~|!~|!=|=)", selector))
        assert keys <= labels.get(name, keys), (name, keys - labels[name])
