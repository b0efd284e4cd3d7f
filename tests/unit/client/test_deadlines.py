"""`--deadline` and the client's `deadline=`: RFC 3339 with an offset, or a duration from now."""

from __future__ import annotations

import datetime as dt

import pytest
import typer

from scripts.client.lanes import deadline_param, lane_choice, lane_fields, parse_duration
from scripts.commands.documents import lane_options

NOW = dt.datetime(2026, 12, 2, 12, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("24h", 86_400),
        ("90m", 5_400),
        ("2d", 172_800),
        ("1h30m", 5_400),
        ("45s", 45),
        ("1.5H", 5_400),
    ],
)
def test_a_duration_is_read_in_seconds_minutes_hours_and_days(text: str, seconds: int) -> None:
    assert parse_duration(text) == dt.timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["", "24", "h", "24x", "2026-12-03T09:00:00Z", "-1h", "1h junk"])
def test_what_is_not_a_duration_is_none(text: str) -> None:
    assert parse_duration(text) is None


def test_a_duration_deadline_is_rfc_3339_at_now_plus_the_duration() -> None:
    assert deadline_param("24h", now=NOW) == "2026-12-03T12:00:00+00:00"
    assert deadline_param(dt.timedelta(minutes=90), now=NOW) == "2026-12-02T13:30:00+00:00"


def test_an_rfc_3339_deadline_keeps_its_offset() -> None:
    assert deadline_param("2026-12-03T09:00:00Z") == "2026-12-03T09:00:00+00:00"
    assert deadline_param("2026-12-03T09:00:00+02:00") == "2026-12-03T09:00:00+02:00"


def test_a_deadline_without_an_offset_is_refused_not_guessed() -> None:
    with pytest.raises(ValueError, match="needs an offset"):
        deadline_param("2026-12-03T09:00:00")
    with pytest.raises(ValueError, match="needs an offset"):
        deadline_param(dt.datetime(2026, 12, 3, 9))  # naive: the case under test


def test_a_deadline_that_is_neither_is_refused_with_both_forms_named() -> None:
    with pytest.raises(ValueError, match=r"RFC 3339 .* duration"):
        deadline_param("tomorrow")
    with pytest.raises(ValueError, match="positive"):
        deadline_param("0h")


def test_the_body_fields_leave_the_defaults_out() -> None:
    assert lane_fields("realtime", None) == {}
    assert lane_fields("auto", "2026-12-03T09:00:00Z") == {
        "lane": "auto",
        "deadline": "2026-12-03T09:00:00+00:00",
    }
    with pytest.raises(ValueError, match="lane must be one of"):
        lane_choice("cheap")


def test_the_cli_options_turn_a_duration_into_a_deadline_and_refuse_a_bad_lane() -> None:
    before = dt.datetime.now(dt.UTC)
    lane, when = lane_options("auto", "2d")
    assert lane == "auto"
    assert when is not None
    at = dt.datetime.fromisoformat(when)
    assert before + dt.timedelta(days=2) <= at <= dt.datetime.now(dt.UTC) + dt.timedelta(days=2)
    with pytest.raises(typer.BadParameter):
        lane_options("cheap", None)
    with pytest.raises(typer.BadParameter):
        lane_options("batch", "2026-12-03T09:00:00")
