"""Lane choice: realtime (live calls) or batch (a provider's batch API, half price, slower)."""

from __future__ import annotations

import datetime as dt

from schemas.lanes import BatchLaneConfig, Lane, LaneChoice

HOUR_S = 3600.0


class LaneRefused(ValueError):
    """A submission's lane and deadline cannot be honoured (the API answers 422 `type`)."""

    def __init__(self, type_: str, message: str) -> None:
        super().__init__(message)
        self.type, self.message = type_, message


def choose_lane(
    *,
    requested: LaneChoice,
    deadline: dt.datetime | None,
    now: dt.datetime,
    config: BatchLaneConfig,
) -> tuple[Lane, str]:
    """The lane a submission's jobs take, and why; LaneRefused for a deadline it cannot meet.

    A deadline must carry a timezone and lie after `now`. The batch lane needs the
    provider's window plus a margin before the deadline: "auto" takes it when that fits (or
    when there is no deadline), and an explicit "batch" that does not fit is refused.
    """
    if deadline is not None:
        if deadline.tzinfo is None or deadline.utcoffset() is None:
            raise LaneRefused("deadline_invalid", "deadline needs a timezone (RFC 3339)")
        if deadline <= now:
            raise LaneRefused("deadline_passed", "deadline is not in the future")
    if requested == "realtime":
        return "realtime", "requested"
    plan = f"the {config.window_h:g} h batch window plus {config.margin_h:g} h margin"
    if deadline is None:
        if requested == "batch":
            return "batch", "requested"
        return "batch", "auto: no deadline; batch lane is half price"
    left_h = (deadline - now).total_seconds() / HOUR_S
    fits = left_h >= config.lead_h
    if requested == "batch":
        if not fits:
            raise LaneRefused(
                "deadline_too_soon",
                f"the batch lane needs a deadline at least {config.lead_h:g} h away ({plan}); "
                f"this one is {left_h:.1f} h away: use lane realtime or auto",
            )
        return "batch", "requested"
    if fits:
        return "batch", f"auto: deadline in {left_h:.1f} h leaves {plan}"
    return "realtime", f"auto: deadline in {left_h:.1f} h is sooner than {plan}"
