"""The `[retention]` TOML table: how long data stays, and the housekeeping that ages it out."""

from __future__ import annotations

from pydantic import BaseModel, Field


class RetentionConfig(BaseModel):
    """Retention defaults; a tenant's own `retention_days` (PATCH /v1/settings) wins."""

    # Days a finished job, its results and ledger detail stay; None keeps them forever.
    default_days: int | None = Field(default=None, ge=1)
    every_s: float = Field(default=30.0, gt=0)  # how often the scheduler's leader sweeps
    chunk: int = Field(default=2000, gt=0)  # jobs deleted per transaction
    chunks_per_pass: int = Field(default=20, gt=0)  # per tenant and per erasure, each sweep
