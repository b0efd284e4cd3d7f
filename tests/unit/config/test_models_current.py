"""The default chains name current models: known to their SDK, and not past end-of-life."""

from __future__ import annotations

import datetime as dt
import re
import typing

import pytest
from anthropic._data import DEPRECATED_MODELS
from anthropic.types.model import Model as AnthropicModel
from openai.types.shared.chat_model import ChatModel

from schemas.config import DEFAULT_CONFIG, load_config

CONFIG = load_config(DEFAULT_CONFIG)
ORDINAL = re.compile(r"(\d+)(st|nd|rd|th)")


def _literals(alias: object) -> set[str]:
    """Every string literal inside a (possibly nested) Union/Literal type alias."""
    found: set[str] = set()
    for arg in typing.get_args(alias):
        if isinstance(arg, str):
            found.add(arg)
        else:
            found |= _literals(arg)
    return found


KNOWN = {"anthropic": _literals(AnthropicModel), "openai": _literals(ChatModel)}


def end_of_life(model: str) -> dt.date | None:
    """The end-of-life date the Anthropic SDK announces for `model` ("November 30th, 2026")."""
    text = DEPRECATED_MODELS.get(model)
    if text is None:
        return None
    return dt.datetime.strptime(ORDINAL.sub(r"\1", text), "%B %d, %Y").date()


@pytest.mark.parametrize("model", sorted(CONFIG.models))
def test_each_configured_model_is_in_its_sdks_model_list(model: str) -> None:
    """A typo or a withdrawn model fails here, not at the first call."""
    provider = CONFIG.models[model].provider
    assert model in KNOWN[provider], f"{model} is unknown to the {provider} SDK"


@pytest.mark.parametrize("model", sorted(CONFIG.models))
def test_no_configured_model_is_past_its_end_of_life(model: str) -> None:
    """The SDK warns on every call to a deprecated model; past its date the calls fail."""
    eol = end_of_life(model)
    assert eol is None or eol > dt.date.today(), f"{model} reached end-of-life on {eol}"


def test_the_eol_guard_reads_the_sdks_date_format_and_flags_a_passed_date(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An SDK entry like "November 30th, 2026" parses, and a passed date fails the check."""
    monkeypatch.setitem(DEPRECATED_MODELS, "claude-retired-test", "November 30th, 2026")
    monkeypatch.setitem(DEPRECATED_MODELS, "claude-later-test", "January 22nd, 2999")
    assert end_of_life("claude-retired-test") == dt.date(2026, 11, 30)
    assert end_of_life("claude-sonnet-5-5") is None
    with pytest.raises(AssertionError, match="reached end-of-life on 2026-11-30"):
        test_no_configured_model_is_past_its_end_of_life("claude-retired-test")
    test_no_configured_model_is_past_its_end_of_life("claude-later-test")


def test_every_tier_chain_names_configured_models() -> None:
    """Chains reference only models that have a provider and a price."""
    for tier in CONFIG.tiers.values():
        assert set(tier.models) <= set(CONFIG.models)
