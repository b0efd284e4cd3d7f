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


def call_cost(*, model: ModelConfig, usage: TokenUsage, day: dt.date) -> Decimal:
    """Cost in USD, rounded to 1e-6, using the price effective on `day`."""
    price = model.price_on(day)
    uncached = max(0, usage.input_tokens - usage.cached_tokens)
    total = (
        Decimal(uncached) * Decimal(str(price.input_per_mtok))
        + Decimal(usage.cached_tokens) * Decimal(str(price.cached_input_per_mtok))
        + Decimal(usage.output_tokens) * Decimal(str(price.output_per_mtok))
    ) / MILLION
    return total.quantize(MICRO, rounding=ROUND_HALF_UP)


def worst_case_cost(
    *, model: ModelConfig, input_tokens: int, max_output_tokens: int, calls: int, day: dt.date
) -> Decimal:
    """The most `calls` calls can cost: full input price and the output cap each time."""
    one = call_cost(model=model, usage=TokenUsage(input_tokens, max_output_tokens), day=day)
    return one * calls
