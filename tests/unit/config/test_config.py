"""Settings and the TOML configuration."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from pydantic import ValidationError

from schemas.config import DEFAULT_CONFIG, Settings, load_config


def test_default_config_loads_with_a_chain_for_every_tier() -> None:
    config = load_config(DEFAULT_CONFIG)
    assert set(config.tiers) == {"low", "medium", "high"}
    for tier in config.tiers.values():
        assert all(model in config.models for model in tier.models)


def test_settings_read_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg://x@db:5432/y")
    monkeypatch.setenv("REDIS_URL", "redis://cache:6379/3")
    monkeypatch.setenv("OPENAI_BASE_URL", "http://sim/v1")
    settings = Settings()
    assert settings.database_url.endswith("@db:5432/y")
    assert settings.redis_url == "redis://cache:6379/3"
    assert settings.openai_base_url == "http://sim/v1"


def test_docqueue_config_names_the_toml_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    text = DEFAULT_CONFIG.read_text().replace("max_reasks = 1", "max_reasks = 5", 1)
    path = tmp_path / "custom.toml"
    path.write_text(text)
    monkeypatch.setenv("DOCQUEUE_CONFIG", str(path))
    assert Settings().app.tiers["low"].max_reasks == 5


def test_a_tier_naming_an_unknown_model_is_rejected(tmp_path: Path) -> None:
    text = DEFAULT_CONFIG.read_text().replace('"gpt-5.6-luna", "claude-haiku-5-5"', '"gpt-9"', 1)
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ValidationError, match="unknown models"):
        load_config(path)


def test_sdk_timeout_must_sit_below_the_soft_limit(tmp_path: Path) -> None:
    text = DEFAULT_CONFIG.read_text().replace("sdk_timeout_s = 120", "sdk_timeout_s = 900")
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ValidationError, match="sdk_timeout_s"):
        load_config(path)


def test_visibility_timeout_must_exceed_the_hard_limit(tmp_path: Path) -> None:
    text = DEFAULT_CONFIG.read_text().replace(
        "visibility_timeout_s = 900", "visibility_timeout_s = 600"
    )
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ValidationError, match="visibility_timeout_s"):
        load_config(path)


def test_price_lookup_uses_the_price_in_force_on_the_day() -> None:
    model = load_config(DEFAULT_CONFIG).models["gpt-5.6-luna"]
    later = model.prices[0].model_copy(
        update={"effective": dt.date(2027, 1, 1), "input_per_mtok": 9.0}
    )
    model = model.model_copy(update={"prices": [*model.prices, later]})
    assert model.price_on(dt.date(2026, 8, 1)).input_per_mtok == 0.20
    assert model.price_on(dt.date(2027, 2, 1)).input_per_mtok == 9.0
