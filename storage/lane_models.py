"""SQLAlchemy models of the batch lane: provider batches, their items, and each job's tape.

A batch-lane job's provider calls are recorded as a tape of exchanges (request sha, answer).
The worker runs the job's engine over the tape: a recorded request is answered from it, the
first unrecorded one is parked as an item for the batcher to submit (docs/batch-lane.md).
"""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from storage.models import NULLABLE_JSONB, USD, Base, _now


class ProviderBatch(Base):
    """One provider batch (an OpenAI Batch or an Anthropic Message Batch) we submitted.

    `id` is our submission id, written before the provider's create: after a crash the
    batcher finds the provider's batch by it (OpenAI metadata) or by its items (Anthropic).
    """

    __tablename__ = "provider_batches"
    __table_args__ = (
        Index("ix_provider_batches_open", "state", postgresql_where=text("state <> 'done'")),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    provider: Mapped[str] = mapped_column(String(16))
    model: Mapped[str] = mapped_column(String(64))
    # preparing (ours, not yet created) | submitted | done (results ingested)
    state: Mapped[str] = mapped_column(String(16), server_default="preparing")
    provider_status: Mapped[str | None] = mapped_column(String(32))
    provider_batch_id: Mapped[str | None] = mapped_column(String(128), unique=True)
    input_file_id: Mapped[str | None] = mapped_column(String(128))
    request_count: Mapped[int] = mapped_column(Integer)
    request_bytes: Mapped[int] = mapped_column(BigInteger)
    counts: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default="{}")
    error: Mapped[str | None] = mapped_column(Text)
    expires_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[dt.datetime] = _now()
    submitted_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    ended_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class LaneItem(Base):
    """One request of one job, sent through a provider batch.

    parked (waiting to be packed) -> packed (in a provider batch) -> answered | errored |
    expired | cancelled. The ledger row (`call_id`) and the budget hold (`reservation_id`) are
    written with the item, at the batch price, and closed when its result is ingested.
    """

    __tablename__ = "lane_items"
    __table_args__ = (
        Index(
            "ix_lane_items_parked",
            "provider",
            "model",
            "created_at",
            postgresql_where=text("state = 'parked'"),
        ),
        Index("ix_lane_items_batch", "provider_batch_id"),
        Index("ix_lane_items_job", "job_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    custom_id: Mapped[str] = mapped_column(String(64), unique=True)
    job_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"))
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)  # the request's place on the job's tape
    provider: Mapped[str] = mapped_column(String(16))
    model: Mapped[str] = mapped_column(String(64))
    body: Mapped[dict[str, Any]] = mapped_column(JSONB)  # the exact request JSON
    request_sha: Mapped[str] = mapped_column(String(64))
    request_bytes: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(16), server_default="parked")
    call_id: Mapped[int | None] = mapped_column(BigInteger)
    reservation_id: Mapped[uuid.UUID | None] = mapped_column()
    reserved_usd: Mapped[Decimal] = mapped_column(USD)
    provider_batch_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("provider_batches.id", ondelete="SET NULL")
    )
    created_at: Mapped[dt.datetime] = _now()
    resolved_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class LaneExchange(Base):
    """One recorded request and its answer on a job's tape (the worker replays these)."""

    __tablename__ = "lane_exchanges"
    __table_args__ = (UniqueConstraint("job_id", "seq", name="uq_lane_exchanges_job_seq"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    job_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)
    request_sha: Mapped[str] = mapped_column(String(64))
    status: Mapped[int] = mapped_column(Integer)  # the answer's HTTP status
    body: Mapped[dict[str, Any] | None] = mapped_column(NULLABLE_JSONB)
    created_at: Mapped[dt.datetime] = _now()
