"""API limits: per-tenant request rate (GCRA in Redis) and body size for chunked uploads."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
import redis

from api.middleware.ratelimit import RequestRateLimiter
from tests.support.stacks import LiveStack, StackFactory

BODY_LIMIT = 65536


def test_gcra_allows_the_burst_then_one_request_per_interval(redis_client: redis.Redis) -> None:
    limiter = RequestRateLimiter(redis_client, rate_per_s=2, burst=3)
    assert [limiter.wait_s("t1") for _ in range(3)] == [0, 0, 0]
    wait = limiter.wait_s("t1")
    assert 0.3 < wait <= 0.5  # one request every 0.5 s once the burst is spent
    assert limiter.wait_s("t2") == 0  # another tenant has its own bucket
    time.sleep(wait + 0.05)
    assert limiter.wait_s("t1") == 0
    assert limiter.wait_s("t1") > 0


def test_gcra_refuses_nonsense_settings(redis_client: redis.Redis) -> None:
    with pytest.raises(ValueError, match="rate_per_s"):
        RequestRateLimiter(redis_client, rate_per_s=0, burst=3)


@pytest.fixture(scope="module")
def limited(stack_factory: StackFactory) -> Iterator[LiveStack]:
    stack = stack_factory(
        name="limits",
        workers=[],
        scheduler=False,
        overrides={"limits": {"max_request_bytes": BODY_LIMIT}},
        extra_env={"API_RATE_PER_S": "2", "API_BURST": "3"},
    )
    yield stack
    stack.close()


@pytest.mark.e2e
def test_a_tenant_over_its_rate_gets_429_with_retry_after_and_others_do_not(
    limited: LiveStack,
) -> None:
    hasty, calm = limited.tenant("hasty"), limited.tenant("calm")
    with limited.client(hasty) as client, ThreadPoolExecutor(8) as pool:
        started = time.monotonic()
        answers = list(pool.map(lambda _: client.get("/v1/schemas"), range(8)))
        elapsed = time.monotonic() - started
    passed = [a for a in answers if a.status_code == 200]
    refused = [a for a in answers if a.status_code == 429]
    assert len(passed) + len(refused) == 8
    assert 3 <= len(passed) <= 3 + int(elapsed * 2) + 1  # the burst, plus 2/s while sending
    assert refused
    assert refused[0].headers["retry-after"] == "1"
    assert refused[0].json()["error"]["type"] == "rate_limited"
    with limited.client(calm) as client:
        assert client.get("/v1/schemas").status_code == 200
    time.sleep(1.0)  # what Retry-After asked for
    with limited.client(hasty) as client:
        assert client.get("/v1/schemas").status_code == 200
    scrape = httpx.get(f"{limited.api_url}/metrics", timeout=10).text
    line = next(x for x in scrape.splitlines() if x.startswith("docqueue_api_rate_limited_total"))
    assert float(line.split()[-1]) >= 1


def _chunks(total: int, size: int = 8192) -> Iterator[bytes]:
    body = json.dumps({"schema": "invoice", "text": "x" * total}).encode()
    for start in range(0, len(body), size):
        yield body[start : start + size]


@pytest.mark.e2e
def test_a_chunked_body_over_the_limit_is_413_without_content_length(limited: LiveStack) -> None:
    with limited.client(limited.tenant("big")) as client:
        resp = client.post(
            "/v1/jobs",
            content=_chunks(BODY_LIMIT + 20000),
            headers={"content-type": "application/json"},
        )
    assert resp.request.headers.get("transfer-encoding") == "chunked"
    assert "content-length" not in resp.request.headers
    assert resp.status_code == 413
    assert resp.json()["error"]["type"] == "request_too_large"


@pytest.mark.e2e
def test_a_chunked_body_under_the_limit_is_accepted(limited: LiveStack) -> None:
    with limited.client(limited.tenant("small")) as client:
        resp = client.post(
            "/v1/jobs",
            content=_chunks(BODY_LIMIT // 2),
            headers={"content-type": "application/json"},
        )
    assert resp.status_code == 202, resp.text


def _batch_lines(total: int) -> bytes:
    """An NDJSON batch upload of about `total` bytes: the header, then 2 KiB documents."""
    lines = [json.dumps({"schema": "document_summary", "tier": "low"})]
    for i in range(total // 2048 + 1):
        lines.append(json.dumps({"text": f"Memo {i}: " + "the audit passed. " * 110}))
    return "\n".join(lines).encode() + b"\n"


@pytest.mark.e2e
@pytest.mark.parametrize("media", ["application/x-ndjson", "application/ndjson"])
def test_an_ndjson_batch_with_a_content_length_over_the_body_cap_is_accepted(
    limited: LiveStack, media: str
) -> None:
    body = _batch_lines(BODY_LIMIT * 2)
    assert len(body) > BODY_LIMIT  # each line is checked on its own, the total is not capped
    with limited.client(limited.tenant(f"ndjson-{media.rsplit('/', 1)[-1]}")) as client:
        resp = client.post("/v1/batches", content=body, headers={"content-type": media})
    assert int(resp.request.headers["content-length"]) == len(body)
    assert resp.status_code == 202, resp.text
    assert resp.json()["created"] == body.count(b"\n") - 1


@pytest.mark.e2e
def test_a_json_batch_with_a_content_length_over_the_body_cap_is_413(limited: LiveStack) -> None:
    docs = [json.loads(line) for line in _batch_lines(BODY_LIMIT * 2).splitlines()[1:]]
    with limited.client(limited.tenant("json-batch")) as client:
        resp = client.post("/v1/batches", json={"schema": "document_summary", "documents": docs})
    assert resp.status_code == 413
    assert resp.json()["error"]["type"] == "request_too_large"
