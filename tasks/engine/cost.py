"""Exact per-call cost from reported usage and the price in force on the call's day."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from schemas.config import ModelConfig

MICRO = Decimal("0.000001")
MILLION = Decimal(1_000_000)


@dataclass(frozen=True)
class TokenUsage:
    """Provider-neutral usage: uncached input, cached input and output tokens."""

    input_tokens: int  # every prompt token, cached ones included
    output_tokens: int
    cached_tokens: int = 0
    cache_write_tokens: int = 0  # of input_tokens, written to the provider's prompt cache


def call_cost(
    *, model: ModelConfig, usage: TokenUsage, day: dt.date, lane: str = "realtime"
) -> Decimal:
    """Cost in USD, rounded to 1e-6, using the lane's price effective on `day`."""
    price = model.price_on(day, lane=lane)
    uncached = max(0, usage.input_tokens - usage.cached_tokens - usage.cache_write_tokens)
    write_price = price.cache_write_per_mtok
    if write_price is None:
        write_price = price.input_per_mtok
    total = (
        Decimal(uncached) * Decimal(str(price.input_per_mtok))
        + Decimal(usage.cached_tokens) * Decimal(str(price.cached_input_per_mtok))
        + Decimal(usage.cache_write_tokens) * Decimal(str(write_price))
        + Decimal(usage.output_tokens) * Decimal(str(price.output_per_mtok))
    ) / MILLION
    return total.quantize(MICRO, rounding=ROUND_HALF_UP)


def worst_case_cost(
    *,
    model: ModelConfig,
    input_tokens: int,
    max_output_tokens: int,
    calls: int,
    day: dt.date,
    lane: str = "realtime",
) -> Decimal:
    """The most `calls` calls can cost: the dearer input price and the output cap each time.

    A prompt-cache write may cost more than plain input (Anthropic), so the worst case
    prices every input token as a write where that is dearer.
    """
    price = model.price_on(day, lane=lane)
    write = price.cache_write_per_mtok
    writes = input_tokens if write is not None and write > price.input_per_mtok else 0
    usage = TokenUsage(input_tokens, max_output_tokens, 0, writes)
    return call_cost(model=model, usage=usage, day=day, lane=lane) * calls
