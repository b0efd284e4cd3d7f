"""Response model of a batch's erasure (DELETE /v1/batches/{id})."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Literal

from pydantic import BaseModel, Field


class ErasureOut(BaseModel):
    """An erasure request and how far it got; it holds no text of what it erased."""

    batch_id: uuid.UUID
    state: Literal["pending", "completed"] = Field(
        description="pending: jobs still in flight finish first; completed: every row is gone"
    )
    requested_at: dt.datetime
    completed_at: dt.datetime | None
    jobs_deleted: int
    documents_deleted: int
    documents_kept: int = Field(
        description="documents another batch still used when the erasure was asked: they stay"
    )
