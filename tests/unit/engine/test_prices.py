"""The checked-in list prices agree with pydantic's `genai-prices`, wherever it knows the model.

Standard rates (not batch, flex or priority) in USD per million tokens, on today's date.
Anthropic's cache writes (docqueue marks the system prompt with cache_control) are checked
too, and every batch price is half the list price.
If a provider changes a price, add a new dated `[[models.X.prices]]` entry (old calls keep
their old cost); never edit a past entry.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from genai_prices import Usage, calc_price
from genai_prices.types import TieredPrices

from schemas.config import DEFAULT_CONFIG, load_config

CONFIG = load_config(DEFAULT_CONFIG)
# Models genai-prices does not list (a self-hosted one, say), each with the source of its
# price. Empty today: every default model is checked.
NOT_LISTED: dict[str, str] = {}


def _listed(model: str, provider: str, on: dt.date) -> tuple[Decimal, Decimal, Decimal]:
    """genai-prices' base-tier rates for `model` on `on` (a call of 1,000 tokens each way)."""
    usage = Usage(input_tokens=2_000, cache_read_tokens=1_000, output_tokens=1_000)
    when = dt.datetime.combine(on, dt.time(12), tzinfo=dt.UTC)
    price = calc_price(usage, model_ref=model, provider_id=provider, genai_request_timestamp=when)
    cached = price.model_price.cache_read_mtok
    rates = (price.model_price.input_mtok, price.model_price.output_mtok, cached)
    return tuple(  # type: ignore[return-value]
        Decimal(0) if r is None else Decimal(str(r.base if isinstance(r, TieredPrices) else r))
        for r in rates
    )


def _first_tier(model: str, provider: str) -> int | None:
    """Where genai-prices' first long-context price tier starts, if the model has one."""
    usage = Usage(input_tokens=1_000, output_tokens=1_000)
    price = calc_price(usage, model_ref=model, provider_id=provider)
    rate = price.model_price.input_mtok
    return rate.tiers[0].start if isinstance(rate, TieredPrices) and rate.tiers else None


@pytest.mark.parametrize("model", sorted(CONFIG.models))
def test_each_configured_list_price_matches_genai_prices_today(model: str) -> None:
    """Input, output and cached-input rates effective today are genai-prices' rates."""
    cfg = CONFIG.models[model]
    today = dt.date.today()
    price = cfg.price_on(today)
    try:
        listed = _listed(model, cfg.provider, today)
    except LookupError:
        assert model in NOT_LISTED, f"{model} is unknown to genai-prices: say whence its price"
        return
    ours = tuple(
        Decimal(str(r))
        for r in (price.input_per_mtok, price.output_per_mtok, price.cached_input_per_mtok)
    )
    assert ours == listed, f"{model}: TOML {ours} vs genai-prices {listed} (per MTok)"


@pytest.mark.parametrize("model", sorted(CONFIG.models))
def test_no_call_can_reach_a_models_long_context_price_tier(model: str) -> None:
    """One flat price is only right while every prompt stays below the first price tier."""
    cfg = CONFIG.models[model]
    start = _first_tier(model, cfg.provider)
    if start is not None:
        assert cfg.context_tokens <= start, f"{model}: context {cfg.context_tokens} > {start}"
        assert cfg.chunk_tokens < start


def test_the_price_lookup_helper_can_tell_two_different_prices_apart() -> None:
    """The check above would catch a wrong price: two models' listed rates differ."""
    today = dt.date.today()
    assert _listed("gpt-5.6-luna", "openai", today) != _listed("gpt-5.6-terra", "openai", today)


@pytest.mark.parametrize("model", sorted(CONFIG.models))
def test_each_cache_write_price_matches_genai_prices_and_batch_prices_are_half(
    model: str,
) -> None:
    """A cache write costs what genai-prices says (input price where it lists none)."""
    cfg = CONFIG.models[model]
    today = dt.date.today()
    price = cfg.price_on(today)
    try:
        listed = calc_price(
            Usage(input_tokens=1_000, cache_write_tokens=1_000),
            model_ref=model,
            provider_id=cfg.provider,
        ).model_price.cache_write_mtok
    except LookupError:
        assert model in NOT_LISTED
        return
    ours = price.cache_write_per_mtok
    if isinstance(listed, TieredPrices):
        listed = listed.base
    expected = None if listed is None else Decimal(str(listed))
    if cfg.provider == "openai":  # its usage reports no cache writes: nothing to price
        assert ours is None
    elif expected is not None and expected != Decimal(str(price.input_per_mtok)):
        assert ours is not None, f"{model}: genai-prices bills cache writes at {expected}"
        assert Decimal(str(ours)) == expected
    half = cfg.price_on(today, lane="batch")
    for name in ("input_per_mtok", "output_per_mtok", "cached_input_per_mtok"):
        assert Decimal(str(getattr(half, name))) * 2 == Decimal(str(getattr(price, name)))
