"""The batch lane's vocabulary and its `[batch_lane]` TOML section."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

Lane = Literal["realtime", "batch"]  # where a job's calls go: live calls, or a provider batch
LaneChoice = Literal["realtime", "batch", "auto"]  # what a submission may ask for
LANES: tuple[Lane, ...] = ("realtime", "batch")


class BatchLaneConfig(BaseModel):
    """The batch lane: provider batch APIs at half price, for jobs that can wait."""

    window_h: float = Field(default=24, gt=0)  # the providers' completion window
    margin_h: float = Field(default=2, ge=0)  # on top: flushing, polling, a resubmit
    flush_size: int = Field(default=1000, gt=0)  # parked requests that start a provider batch
    max_wait_s: float = Field(default=60, gt=0)  # or the oldest parked one waited this long
    poll_s: float = Field(default=30, gt=0)
    max_resubmits: int = Field(default=3, ge=0)
    # The providers' own limits on one batch (requests, bytes of its input file).
    openai_max_requests: int = Field(default=50_000, gt=0)
    openai_max_bytes: int = Field(default=200 * 1024 * 1024, gt=0)
    anthropic_max_requests: int = Field(default=100_000, gt=0)
    anthropic_max_bytes: int = Field(default=256 * 1024 * 1024, gt=0)

    @property
    def lead_h(self) -> float:
        """How far off a deadline must be for the batch lane: the window plus the margin."""
        return self.window_h + self.margin_h
