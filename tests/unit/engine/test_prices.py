"""The checked-in list prices, pinned to values verified against an outside source.

Source: pydantic's `genai-prices` 0.2.3 (https://github.com/pydantic/genai-prices, data
file genai_prices/data.py, providers "openai" and "anthropic"), checked on 2026-11-23.
Its OpenAI rates cite https://developers.openai.com/api/docs/pricing; its Anthropic
rates cite https://platform.claude.com/docs/en/build-with-claude/prompt-caching#pricing.
Standard (not batch, flex or priority) rates in USD per million tokens; Anthropic's
cache-write surcharge is not modelled because docqueue sends no cache_control blocks.
If a provider changes a price, add a new dated `[[models.X.prices]]` entry (old calls
keep their old cost) and extend this table; never edit a past entry.
"""

from __future__ import annotations

import datetime as dt

import pytest

from schemas.config import DEFAULT_CONFIG, load_config

# model: (effective from, input, output, cached input) in USD per million tokens
VERIFIED = {
    "gpt-4.1-mini": (dt.date(2025, 4, 14), 0.40, 1.60, 0.10),
    "gpt-4.1": (dt.date(2025, 4, 14), 2.00, 8.00, 0.50),
    "claude-haiku-4-5": (dt.date(2025, 10, 15), 1.00, 5.00, 0.10),
    "claude-sonnet-4-5": (dt.date(2025, 9, 29), 3.00, 15.00, 0.30),
}


@pytest.mark.parametrize("model", sorted(VERIFIED))
def test_toml_list_price_matches_the_verified_price(model: str) -> None:
    effective, input_price, output_price, cached_price = VERIFIED[model]
    price = load_config(DEFAULT_CONFIG).models[model].price_on(dt.date.today())
    assert price.effective == effective
    assert (price.input_per_mtok, price.output_per_mtok, price.cached_input_per_mtok) == (
        input_price,
        output_price,
        cached_price,
    )


def test_every_configured_model_has_a_verified_price() -> None:
    assert set(load_config(DEFAULT_CONFIG).models) == set(VERIFIED)


def test_sonnet_context_stays_below_the_200k_token_price_tier() -> None:
    # Above 200k input tokens Sonnet 4.5 was billed at a higher tier; one flat price is
    # only right while no call can be that long.
    model = load_config(DEFAULT_CONFIG).models["claude-sonnet-4-5"]
    assert model.context_tokens <= 200_000
    assert model.chunk_tokens < 200_000
