"""The usage ledger: one row per provider call, written as soon as the call returns."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import insert
from sqlalchemy.orm import Session

from storage.models import LlmCall


@dataclass(frozen=True)
class CallRow:
    """One billed provider call."""

    job_id: uuid.UUID
    tenant_id: uuid.UUID
    attempt: int
    seq: int
    tier: str
    provider: str
    model: str
    chunk: int | None
    input_tokens: int
    output_tokens: int
    cached_tokens: int
    cost_usd: Decimal
    latency_ms: int
    outcome: str
    status_code: int | None


def record_call(*, session: Session, row: CallRow) -> None:
    """Append one call to the ledger."""
    session.execute(insert(LlmCall).values(**row.__dict__))
