"""Exact cost per call, and the complexity router's thresholds."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from schemas.config import DEFAULT_CONFIG, load_config
from tasks.engine.cost import TokenUsage, call_cost, worst_case_cost
from tasks.engine.router import Features, choose_tier

CONFIG = load_config(DEFAULT_CONFIG)
DAY = dt.date(2026, 11, 23)


def test_cost_is_exact_to_a_millionth_of_a_dollar() -> None:
    # gpt-5.6-luna: 0.20 in, 1.20 out, 0.02 cached per million
    usage = TokenUsage(input_tokens=1234, output_tokens=567, cached_tokens=200)
    cost = call_cost(model=CONFIG.models["gpt-5.6-luna"], usage=usage, day=DAY)
    expected = (
        Decimal(1034) * Decimal("0.20")
        + Decimal(200) * Decimal("0.02")
        + Decimal(567) * Decimal("1.20")
    ) / Decimal(1_000_000)
    assert cost == expected.quantize(Decimal("0.000001"))
    assert cost == Decimal("0.000891")


def test_anthropic_cache_writes_cost_their_own_price_and_reads_the_cached_one() -> None:
    # claude-haiku-5-5: 0.10 in, 0.125 cache write, 0.01 cache read, 0.50 out per million
    usage = TokenUsage(
        input_tokens=5000, output_tokens=100, cached_tokens=1000, cache_write_tokens=2000
    )
    cost = call_cost(model=CONFIG.models["claude-haiku-5-5"], usage=usage, day=DAY)
    expected = (2000 * 0.10 + 2000 * 0.125 + 1000 * 0.01 + 100 * 0.50) / 1_000_000
    assert cost == Decimal(str(expected)).quantize(Decimal("0.000001"))
    half = call_cost(model=CONFIG.models["claude-haiku-5-5"], usage=usage, day=DAY, lane="batch")
    assert half == (cost / 2).quantize(Decimal("0.000001"))


def test_worst_case_covers_every_reask_at_the_output_cap() -> None:
    model = CONFIG.models["claude-sonnet-5-5"]
    # every input token priced as a cache write, the dearer rate
    one = call_cost(model=model, usage=TokenUsage(1000, 4096, 0, 1000), day=DAY)
    assert (
        worst_case_cost(model=model, input_tokens=1000, max_output_tokens=4096, calls=3, day=DAY)
        == one * 3
    )


def _route(tokens: int, fields: int = 5, depth: int = 1, chunked: bool = False) -> str:
    return choose_tier(features=Features(tokens, fields, depth, chunked), config=CONFIG).tier


def test_small_document_and_schema_route_low() -> None:
    assert _route(CONFIG.router.low_max_tokens) == "low"


def test_just_over_the_low_token_bound_routes_medium() -> None:
    assert _route(CONFIG.router.low_max_tokens + 1) == "medium"


def test_token_count_at_the_high_bound_routes_high() -> None:
    assert _route(CONFIG.router.high_min_tokens) == "high"
    assert _route(CONFIG.router.high_min_tokens - 1) == "medium"


@pytest.mark.parametrize(
    ("fields", "depth", "tier"),
    [
        (16, 2, "low"),
        (17, 2, "medium"),
        (40, 1, "high"),
        (5, 3, "medium"),
        (5, 4, "high"),
    ],
)
def test_schema_size_and_depth_move_the_tier(fields: int, depth: int, tier: str) -> None:
    assert _route(100, fields, depth) == tier


def test_a_document_that_needs_chunking_routes_high_with_a_reason() -> None:
    route = choose_tier(features=Features(500, 5, 1, True), config=CONFIG)
    assert route.tier == "high"
    assert "chunking" in route.reason
