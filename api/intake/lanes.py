"""The lane a submission fixes on its jobs: chosen once per request, stored on every job."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from api.errors import ApiError
from schemas.api import Submission
from schemas.config import AppConfig
from schemas.lanes import Lane
from tasks.engine.lanes import LaneRefused, choose_lane


@dataclass(frozen=True)
class LanePlan:
    """A job's lane, why, and the deadline its submission gave."""

    lane: Lane
    reason: str
    deadline: dt.datetime | None = None


# Jobs made without a lane choice (inference calls, reruns): live calls, as before lanes.
REALTIME = LanePlan("realtime", "")


def plan_lane(body: Submission, config: AppConfig, now: dt.datetime | None = None) -> LanePlan:
    """The lane for `body`'s jobs; 422 (ApiError) for a deadline the lane cannot meet."""
    try:
        lane, reason = choose_lane(
            requested=body.lane,
            deadline=body.deadline,
            now=now or dt.datetime.now(dt.UTC),
            config=config.batch_lane,
        )
    except LaneRefused as exc:
        raise ApiError(422, exc.type, exc.message) from exc
    return LanePlan(lane, reason, body.deadline)
