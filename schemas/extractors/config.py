"""The `[extractors]` table: schema limits at the door, and how long inference may take."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from schemas.extractors.limits import ExtractorLimits

__all__ = ["ExtractorsConfig"]


class ExtractorsConfig(BaseModel):
    """Tunables of tenant extractors."""

    model_config = ConfigDict(extra="forbid")

    limits: ExtractorLimits = Field(default_factory=ExtractorLimits)
    # POST /v1/extractors/infer waits this long for its job, then answers 202 with the job
    # id to poll: a request must not hold a connection for as long as a slow model takes.
    infer_wait_s: float = Field(default=60.0, ge=0)
    infer_max_samples: int = Field(default=5, ge=1, le=20)
    # Each sample is cut to this many characters: a schema is visible in a document's head,
    # and five whole 500-page samples would cost more than the extractions they prepare.
    infer_sample_chars: int = Field(default=12_000, ge=500)
