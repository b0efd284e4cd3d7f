"""Lanes and deadlines as the client sends them: `lane` names, RFC 3339 or `24h`-style input."""

from __future__ import annotations

import datetime as dt
import re
from typing import Literal, get_args

# realtime: live calls; batch: a provider's batch API (half price, within its 24 h window);
# auto: the API picks batch unless the deadline is too near.
LaneChoice = Literal["realtime", "batch", "auto"]
LANE_CHOICES: tuple[str, ...] = get_args(LaneChoice)

_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*([smhd])", re.IGNORECASE)
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def lane_choice(value: str) -> LaneChoice:
    """`value` as a lane choice, or ValueError naming the valid ones."""
    for choice in get_args(LaneChoice):
        if value == choice:
            found: LaneChoice = choice
            return found
    raise ValueError(f"lane must be one of {', '.join(LANE_CHOICES)}, not {value!r}")


def parse_duration(text: str) -> dt.timedelta | None:
    """`90m`, `24h`, `2d`, `1h30m` as a timedelta; None if `text` is not a duration."""
    compact = text.strip().replace(" ", "")
    if not compact or _DURATION.sub("", compact):
        return None
    total = sum(float(n) * _UNIT_S[u.lower()] for n, u in _DURATION.findall(compact))
    return dt.timedelta(seconds=total)


def deadline_param(
    value: str | dt.datetime | dt.timedelta | None, *, now: dt.datetime | None = None
) -> str | None:
    """A deadline as the API takes it: RFC 3339 with an offset, or None for no deadline.

    A duration (`24h`, a timedelta) counts from `now` (default: this moment, UTC). A time
    without an offset is refused: the API would refuse it too, and guessing one could move
    the deadline by hours.
    """
    if value is None:
        return None
    start = now or dt.datetime.now(dt.UTC)
    if isinstance(value, dt.timedelta):
        return _after(start, value)
    if isinstance(value, str):
        duration = parse_duration(value)
        if duration is not None:
            return _after(start, duration)
        try:
            value = dt.datetime.fromisoformat(value.strip())
        except ValueError as exc:
            raise ValueError(
                f"deadline {value!r} is neither RFC 3339 (2026-12-03T09:00:00Z) "
                "nor a duration (90m, 24h, 2d)"
            ) from exc
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"deadline {value.isoformat()} needs an offset (Z or +02:00)")
    return value.isoformat()


def _after(start: dt.datetime, duration: dt.timedelta) -> str:
    if duration <= dt.timedelta(0):
        raise ValueError("a deadline duration must be positive")
    return (start + duration).isoformat()


def lane_fields(
    lane: LaneChoice, deadline: str | dt.datetime | dt.timedelta | None
) -> dict[str, str]:
    """The `lane` and `deadline` of a request body; the defaults are left out."""
    fields: dict[str, str] = {} if lane == "realtime" else {"lane": lane_choice(lane)}
    when = deadline_param(deadline)
    if when is not None:
        fields["deadline"] = when
    return fields
