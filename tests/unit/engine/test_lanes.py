"""Lane choice: what each request, deadline and the `[batch_lane]` window make of a job."""

from __future__ import annotations

import datetime as dt

import pytest

from schemas.config import DEFAULT_CONFIG, ModelConfig, Price, load_config
from schemas.lanes import BatchLaneConfig
from tasks.engine.lanes import LaneRefused, choose_lane

NOW = dt.datetime(2026, 12, 2, 12, 0, tzinfo=dt.UTC)
CONFIG = BatchLaneConfig()  # 24 h window, 2 h margin


def _hours(h: float) -> dt.datetime:
    return NOW + dt.timedelta(hours=h)


def test_realtime_is_taken_as_requested_whatever_the_deadline() -> None:
    assert choose_lane(requested="realtime", deadline=None, now=NOW, config=CONFIG) == (
        "realtime",
        "requested",
    )
    assert choose_lane(requested="realtime", deadline=_hours(0.5), now=NOW, config=CONFIG) == (
        "realtime",
        "requested",
    )


def test_batch_without_a_deadline_or_with_a_far_one_is_taken_as_requested() -> None:
    for deadline in (None, _hours(26)):
        got = choose_lane(requested="batch", deadline=deadline, now=NOW, config=CONFIG)
        assert got == ("batch", "requested")


def test_batch_with_a_deadline_inside_window_plus_margin_is_refused_naming_the_hours() -> None:
    with pytest.raises(LaneRefused) as caught:
        choose_lane(requested="batch", deadline=_hours(25.9), now=NOW, config=CONFIG)
    assert caught.value.type == "deadline_too_soon"
    assert "at least 26 h" in caught.value.message
    assert "25.9 h away" in caught.value.message


def test_auto_without_a_deadline_takes_the_half_price_batch_lane() -> None:
    got = choose_lane(requested="auto", deadline=None, now=NOW, config=CONFIG)
    assert got == ("batch", "auto: no deadline; batch lane is half price")


def test_auto_with_a_far_deadline_takes_batch_and_says_how_far() -> None:
    got = choose_lane(requested="auto", deadline=_hours(47.9), now=NOW, config=CONFIG)
    assert got == (
        "batch",
        "auto: deadline in 47.9 h leaves the 24 h batch window plus 2 h margin",
    )


def test_auto_with_a_near_deadline_stays_realtime_and_says_why() -> None:
    got = choose_lane(requested="auto", deadline=_hours(1), now=NOW, config=CONFIG)
    assert got == (
        "realtime",
        "auto: deadline in 1.0 h is sooner than the 24 h batch window plus 2 h margin",
    )


def test_auto_at_exactly_window_plus_margin_takes_batch() -> None:
    lane, _ = choose_lane(requested="auto", deadline=_hours(26), now=NOW, config=CONFIG)
    assert lane == "batch"
    lane, _ = choose_lane(
        requested="auto", deadline=_hours(26) - dt.timedelta(seconds=1), now=NOW, config=CONFIG
    )
    assert lane == "realtime"


def test_the_window_and_margin_come_from_the_config() -> None:
    short = BatchLaneConfig(window_h=1, margin_h=0.5)
    lane, reason = choose_lane(requested="auto", deadline=_hours(2), now=NOW, config=short)
    assert lane == "batch"
    assert reason == "auto: deadline in 2.0 h leaves the 1 h batch window plus 0.5 h margin"


@pytest.mark.parametrize("requested", ["realtime", "batch", "auto"])
def test_a_past_deadline_is_refused_in_every_lane(requested: str) -> None:
    with pytest.raises(LaneRefused) as caught:
        choose_lane(
            requested=requested,  # type: ignore[arg-type]
            deadline=_hours(-0.1),
            now=NOW,
            config=CONFIG,
        )
    assert caught.value.type == "deadline_passed"


def test_a_naive_deadline_is_refused_not_guessed() -> None:
    naive = dt.datetime(2026, 12, 5, 12, 0)  # naive: the case under test
    with pytest.raises(LaneRefused) as caught:
        choose_lane(requested="auto", deadline=naive, now=NOW, config=CONFIG)
    assert caught.value.type == "deadline_invalid"


def _model(batch: list[Price]) -> ModelConfig:
    listed = Price(
        effective=dt.date(2026, 7, 30),
        input_per_mtok=2.0,
        output_per_mtok=12.0,
        cached_input_per_mtok=0.2,
    )
    return ModelConfig(
        provider="openai",
        concurrency=1,
        tokens_per_minute=1,
        context_tokens=1,
        chunk_tokens=1,
        prices=[listed],
        batch_prices=batch,
    )


def test_price_on_the_batch_lane_reads_batch_prices_and_realtime_the_list_price() -> None:
    half = Price(
        effective=dt.date(2026, 7, 30),
        input_per_mtok=1.0,
        output_per_mtok=6.0,
        cached_input_per_mtok=0.1,
    )
    model = _model([half])
    day = dt.date(2026, 12, 2)
    assert model.price_on(day, lane="batch").input_per_mtok == 1.0
    assert model.price_on(day).input_per_mtok == 2.0
    assert model.price_on(day, lane="realtime").output_per_mtok == 12.0


def test_price_on_the_batch_lane_of_a_model_without_batch_prices_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="no batch_prices"):
        _model([]).price_on(dt.date(2026, 12, 2), lane="batch")
    with pytest.raises(ValueError, match="unknown lane"):
        _model([]).price_on(dt.date(2026, 12, 2), lane="flex")


def test_every_shipped_model_has_a_batch_price_of_half_its_list_price() -> None:
    config = load_config(DEFAULT_CONFIG)
    day = dt.date(2026, 12, 2)
    for name, model in config.models.items():
        listed, batch = model.price_on(day), model.price_on(day, lane="batch")
        for field in ("input_per_mtok", "output_per_mtok", "cached_input_per_mtok"):
            assert getattr(batch, field) == pytest.approx(getattr(listed, field) / 2), name
