"""The extraction engine under provider failures, end to end on real workers and the simulator.

One isolated stack for the module, because these tests change the simulator's global
configuration (fault rates, a model down) and read its global counters.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
import redis
from sqlalchemy import func, select

from schemas.config import AppConfig, load_config
from schemas.extraction.registry import get_schema
from storage.models import Job, LlmCall
from tasks.engine.cost import TokenUsage, call_cost
from tasks.flow.breaker import RedisCircuitBreaker
from tests.support.stacks import LiveStack, StackFactory
from tests.support.waits import wait_for, wait_job

pytestmark = pytest.mark.e2e

PRIMARY, FALLBACK = "gpt-5.6-luna", "claude-haiku-5-5"  # the low tier's chain
INVOICE = """Invoice INV-{n} from Northwind Traders Ltd, 12 Harbour Road, Leeds, dated
2026-02-{day:02d}. Bill to: Contoso plc. {n} x widget at 4.25 GBP, 1 x gasket at 9.80 GBP.
Payment due within 30 days."""

# The breaker must stay shut under 30% random faults (12 consecutive failures have odds
# of 0.3**12) yet open fast when a model is down (every answer fails). A 3 s cool-down
# leaves time to count the calls made while it is open.
BREAKER = {
    "failure_threshold": 12,
    "error_rate": 0.9,
    "window_s": 30,
    "min_calls": 20,
    "cooldown_s": 3.0,
}


@pytest.fixture(scope="module")
def stack(stack_factory: StackFactory) -> Iterator[LiveStack]:
    """A stack of its own: one worker serving every tier, 16 threads."""
    live = stack_factory(name="resilience", overrides={"breaker": BREAKER})
    yield live
    live.close()


@pytest.fixture(scope="module")
def config(stack: LiveStack) -> AppConfig:
    """The configuration the stack's processes run with."""
    return load_config(Path(stack.env["DOCQUEUE_CONFIG"]))


@pytest.fixture(scope="module")
def breaker(stack: LiveStack, config: AppConfig) -> Iterator[RedisCircuitBreaker]:
    """The workers' breakers, read (and reset) through the stack's Redis."""
    client = redis.Redis.from_url(stack.redis_url)
    yield RedisCircuitBreaker(client, config.breaker)
    client.close()


@pytest.fixture(autouse=True)
def clean_slate(stack: LiveStack, config: AppConfig, breaker: RedisCircuitBreaker) -> None:
    """Every test starts with a healthy simulator, zeroed counters and closed breakers."""
    stack.sim("/sim/reset", {})
    for model in config.models:
        breaker.reset(model)


def submit(client: httpx.Client, text: str, *, tier: str = "low", schema: str = "invoice") -> str:
    """Queue one job and return its id."""
    resp = client.post("/v1/jobs", json={"schema": schema, "text": text, "tier": tier})
    assert resp.status_code == 202, resp.text
    job_id: str = resp.json()["id"]
    return job_id


def wait_all(stack: LiveStack, ids: list[str], *, timeout: float = 180.0) -> dict[str, Job]:
    """Wait until every job is terminal; return the rows by id."""

    def finished() -> dict[str, Job] | None:
        with stack.session() as session:
            jobs = session.scalars(select(Job).where(Job.id.in_(ids))).all()
            session.expunge_all()
        done = [j for j in jobs if j.status in ("succeeded", "failed", "cancelled")]
        return {str(j.id): j for j in jobs} if len(done) == len(ids) else None

    result: dict[str, Job] = wait_for(finished, timeout=timeout, every=0.5)
    return result


def ledger(stack: LiveStack, job_ids: list[str]) -> list[LlmCall]:
    """The ledger rows of some jobs, in call order."""
    with stack.session() as session:
        rows = session.scalars(
            select(LlmCall)
            .where(LlmCall.job_id.in_(job_ids))
            .order_by(LlmCall.job_id, LlmCall.attempt, LlmCall.seq)
        ).all()
        session.expunge_all()
    return list(rows)


def primary_requests(stack: LiveStack) -> int:
    """Requests the simulator has received for the primary model."""
    stats = stack.sim("/sim/stats?samples=0")
    return int(stats["by_model"].get(PRIMARY, {}).get("requests", 0))


@pytest.mark.faults  # slow: `make test-faults`
def test_thirty_percent_faults_all_jobs_succeed_and_ledger_counts_every_injected_fault(
    stack: LiveStack,
) -> None:
    stack.sim("/sim/config", {"fault_rate": 0.3, "fault_statuses": [429, 500, 529]})
    tenant = stack.tenant("faults", concurrency=64)
    with stack.client(tenant) as client:
        ids = [submit(client, INVOICE.format(n=n, day=n % 28 + 1)) for n in range(100)]
    jobs = wait_all(stack, ids)
    statuses = Counter(j.status for j in jobs.values())
    assert statuses == {"succeeded": 100}, [j.error_message for j in jobs.values()][:5]

    stats = stack.sim("/sim/stats?samples=0")["by_model"]
    rows = ledger(stack, ids)
    assert {r.outcome for r in rows} <= {"ok", "http_429", "http_500", "http_529"}
    injected = sum(m["faults"] for m in stats.values())
    assert injected > 10  # 30% of ~140 calls: the faults really were there
    for model, counters in stats.items():
        mine = [r for r in rows if r.model == model]
        failed = [r for r in mine if r.outcome.startswith("http_")]
        assert len(failed) == counters["faults"], model
        assert sum(r.outcome == "ok" for r in mine) == counters["ok"], model
        by_status = Counter(str(r.status_code) for r in failed)
        assert by_status == {k: v for k, v in counters["by_status"].items() if k != "200"}
    # every job ends with exactly one successful call; the rest are retried faults
    assert Counter(str(r.job_id) for r in rows if r.outcome == "ok") == dict.fromkeys(ids, 1)


def test_http_400_is_not_retried_and_fails_over_once_per_model(stack: LiveStack) -> None:
    with stack.client() as client:
        job_id = submit(client, INVOICE.format(n=7, day=7) + "\n[[sim:status=400]]")
        job = wait_job(client, job_id, timeout=90)
    assert job["status"] == "failed", job
    assert job["error"]["type"] == "provider_error"
    assert FALLBACK in job["error"]["message"]
    assert "400" in job["error"]["message"]
    rows = ledger(stack, [job_id])
    assert [(r.model, r.outcome, r.status_code) for r in rows] == [
        (PRIMARY, "http_400", 400),
        (FALLBACK, "http_400", 400),
    ]
    stats = stack.sim("/sim/stats?samples=0")["by_model"]
    assert {m: c["requests"] for m, c in stats.items()} == {PRIMARY: 1, FALLBACK: 1}


def test_primary_down_jobs_complete_on_fallback_and_open_breaker_only_lets_probes_through(
    stack: LiveStack, breaker: RedisCircuitBreaker, config: AppConfig
) -> None:
    stack.sim("/sim/config", {"down_models": [PRIMARY]})
    cooldown = config.breaker.cooldown_s
    with stack.client() as client:
        ids = [submit(client, INVOICE.format(n=n, day=3)) for n in range(20)]
        wait_for(lambda: breaker.state(PRIMARY) == "open", timeout=60, every=0.02)
        # Calls that passed allow() just before the breaker opened land within moments;
        # anything later must have been let through by the open breaker.
        time.sleep(cooldown / 3)
        assert breaker.state(PRIMARY) == "open"
        calls_at_open = primary_requests(stack)
        opened_at_open = breaker.opened_total(PRIMARY)
        ids += [submit(client, INVOICE.format(n=n, day=4)) for n in range(20, 40)]
        wait_all(stack, ids)
        # after the cool-down the next job is the half-open probe: one call, which fails
        wait_for(lambda: breaker.state(PRIMARY) == "half_open", timeout=cooldown * 3)
        ids += [submit(client, INVOICE.format(n=n, day=5)) for n in range(40, 50)]
        jobs = wait_all(stack, ids)
    assert {j.status for j in jobs.values()} == {"succeeded"}
    assert {j.model for j in jobs.values()} == {FALLBACK}
    probes = breaker.opened_total(PRIMARY) - opened_at_open  # each failed probe re-opens it
    assert probes >= 1
    assert primary_requests(stack) - calls_at_open <= probes
    assert breaker.state(PRIMARY) in ("open", "half_open")
    with stack.client() as client:
        assert client.get(f"/v1/jobs/{ids[-1]}").json()["model"] == FALLBACK


def _rebilled(stack: LiveStack, tier: str, model: str, config: AppConfig) -> None:
    """`[[sim:invalid_once]]` succeeds after one re-ask, and both answers are billed."""
    text = INVOICE.format(n=11, day=11) + "\n[[sim:invalid_once]]"
    with stack.client() as client:
        job = wait_job(client, submit(client, text, tier=tier), timeout=90)
    assert job["status"] == "succeeded", job
    assert job["model"] == model
    rows = ledger(stack, [job["id"]])
    assert [(r.model, r.outcome) for r in rows] == [(model, "validation_error"), (model, "ok")]
    stats = stack.sim("/sim/stats?samples=0")
    counters, usage = stats["by_model"][model], stats["usage"][model]
    assert (counters["ok"], counters["invalid"]) == (2, 1)
    assert "400" not in counters["by_status"]  # the re-ask was a well-formed conversation
    # the ledger, the simulator and the job agree on tokens
    assert sum(r.input_tokens for r in rows) == usage["input_tokens"]
    assert sum(r.output_tokens for r in rows) == usage["output_tokens"]
    assert (job["usage"]["input_tokens"], job["usage"]["output_tokens"]) == (
        usage["input_tokens"],
        usage["output_tokens"],
    )
    # cost: job == sum of both rows == the price list applied to the simulator's usage
    cost = Decimal(job["usage"]["cost_usd"])
    assert cost == sum((r.cost_usd for r in rows), Decimal(0))
    assert all(r.cost_usd > 0 for r in rows)
    model_cfg = config.models[model]
    for row in rows:
        billed = TokenUsage(
            row.input_tokens, row.output_tokens, row.cached_tokens, row.cache_write_tokens
        )
        assert row.cost_usd == call_cost(model=model_cfg, usage=billed, day=row.created_at.date())
    price = model_cfg.price_on(rows[0].created_at.date())
    # the simulator's prompt cache, as it reported it: reads and (Anthropic) writes
    cached = sum(r.cached_tokens for r in rows)
    writes = sum(r.cache_write_tokens for r in rows)
    write_price = price.cache_write_per_mtok or price.input_per_mtok
    expected = (
        Decimal(usage["input_tokens"] - cached - writes) * Decimal(str(price.input_per_mtok))
        + Decimal(cached) * Decimal(str(price.cached_input_per_mtok))
        + Decimal(writes) * Decimal(str(write_price))
        + Decimal(usage["output_tokens"]) * Decimal(str(price.output_per_mtok))
    ) / Decimal(1_000_000)
    assert abs(cost - expected) <= Decimal("0.000001") * len(rows)  # per-call rounding only


def test_reasked_validation_failure_is_billed_for_both_attempts_on_openai(
    stack: LiveStack, config: AppConfig
) -> None:
    _rebilled(stack, "low", PRIMARY, config)


def test_reask_against_anthropic_sends_a_valid_tool_result_and_bills_both_attempts(
    stack: LiveStack, config: AppConfig
) -> None:
    assert config.models[config.tiers["high"].models[0]].provider == "anthropic"
    _rebilled(stack, "high", config.tiers["high"].models[0], config)


def test_job_stores_the_prompt_and_schema_version_it_was_extracted_with(
    stack: LiveStack,
) -> None:
    spec = get_schema("document_summary")
    with stack.client() as client:
        job = wait_job(
            client,
            submit(client, "A short memo about the office move.", schema="document_summary"),
        )
    assert job["status"] == "succeeded", job
    assert (job["prompt_version"], job["schema_version"]) == (spec.prompt.version, spec.version)
    with stack.session() as session:
        stored = session.scalar(select(Job.prompt_version).where(Job.id == job["id"]))
        calls = session.scalar(select(func.count()).where(LlmCall.job_id == job["id"]))
    assert stored == spec.prompt.version
    assert calls == 1
