"""Hostile PDFs are parsed in killed-on-timeout children: another tenant's latency holds."""

from __future__ import annotations

import base64
import statistics
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.support.hostile_files import billion_laughs_pdf
from tests.support.stacks import LiveStack, StackFactory

pytestmark = pytest.mark.e2e

PARSE_TIMEOUT_S = 3.0
HOSTILE = 10
SAMPLES = 50
P99_BOUND_S = 0.100


@pytest.fixture(scope="module")
def parsing(stack_factory: StackFactory) -> Iterator[LiveStack]:
    """An API with a 3 s parse limit and no workers: only intake runs."""
    stack = stack_factory(
        name="parse-isolation",
        overrides={"limits": {"parse_timeout_s": PARSE_TIMEOUT_S}},
        workers=[],
        scheduler=False,
    )
    yield stack
    stack.close()


def _p99(client: httpx.Client) -> tuple[float, list[float]]:
    took = []
    for n in range(SAMPLES):
        started = time.monotonic()
        resp = client.post("/v1/jobs", json={"schema": "document_summary", "text": f"Memo {n}."})
        took.append(time.monotonic() - started)
        assert resp.status_code == 202, resp.text
    return statistics.quantiles(took, n=100)[98], took


@pytest.mark.faults  # slow: `make test-faults`
def test_ten_hostile_pdfs_in_flight_keep_another_tenants_post_p99_under_100_ms(
    parsing: LiveStack,
) -> None:
    pdf = base64.b64encode(billion_laughs_pdf(depth=9, fan=10)).decode()
    hostile = {"schema": "document_summary", "filename": "laughs.pdf", "content_base64": pdf}
    with (
        parsing.client(parsing.tenant("attacker"), timeout=120) as attacker,
        parsing.client(parsing.tenant("bystander")) as bystander,
    ):
        _p99(bystander)  # warm up connections and caches
        quiet, _ = _p99(bystander)
        if quiet > P99_BOUND_S:  # the shared host itself is too busy to measure anything
            pytest.skip(f"p99 is {quiet * 1000:.0f} ms with no hostile load at all")
        with ThreadPoolExecutor(HOSTILE) as pool:
            started = time.monotonic()
            answers = [pool.submit(attacker.post, "/v1/jobs", json=hostile) for _ in range(HOSTILE)]
            time.sleep(0.5)  # every hostile upload is parsing or waiting for a parse child
            loaded, took = _p99(bystander)
            in_flight = sum(not a.done() for a in answers)
            results = [a.result() for a in answers]
            hostile_s = time.monotonic() - started
    print(
        f"\nPOST /v1/jobs p99: {quiet * 1000:.1f} ms quiet, {loaded * 1000:.1f} ms with "
        f"{HOSTILE} hostile PDFs (max {max(took) * 1000:.1f} ms, {in_flight} still in flight "
        f"after); the hostile ones took {hostile_s:.1f} s"
    )
    assert in_flight >= HOSTILE // 2  # measured while the hostile parses ran
    for resp in results:
        assert resp.status_code == 422, resp.text
        error = resp.json()["error"]
        assert error["type"] == "document_invalid"
        assert f"exceeded its time limit ({PARSE_TIMEOUT_S:g} s)" in error["message"]
    assert loaded < P99_BOUND_S
