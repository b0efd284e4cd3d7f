"""SQLAlchemy models of data that ages out: erasure records and the usage kept after it."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

from sqlalchemy import BigInteger, Date, DateTime, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from storage.models import USD, Base, _now


class Erasure(Base):
    """A batch's right-to-erasure request: pending until its rows are gone, then the record.

    It outlives the batch (no foreign key): what was erased, when, and what stayed because
    another batch still uses it. It holds no text.
    """

    __tablename__ = "erasures"

    batch_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    requested_at: Mapped[dt.datetime] = _now()
    completed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    jobs_deleted: Mapped[int] = mapped_column(Integer, server_default="0")
    documents_deleted: Mapped[int] = mapped_column(Integer, server_default="0")
    documents_kept: Mapped[int] = mapped_column(Integer, server_default="0")  # still used


class UsageDay(Base):
    """The usage ledger of deleted calls, summed per UTC day, model, tier and lane.

    Retention and erasure fold `llm_calls` rows in here before deleting them, so spend
    reports (storage/usage.py) and monthly totals stay exact for audit.
    """

    __tablename__ = "usage_days"

    tenant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True
    )
    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    model: Mapped[str] = mapped_column(String(64), primary_key=True)
    tier: Mapped[str] = mapped_column(String(8), primary_key=True)
    lane: Mapped[str] = mapped_column(String(16), primary_key=True)
    calls: Mapped[int] = mapped_column(BigInteger)
    input_tokens: Mapped[int] = mapped_column(BigInteger)
    output_tokens: Mapped[int] = mapped_column(BigInteger)
    cached_tokens: Mapped[int] = mapped_column(BigInteger)
    cost_usd: Mapped[Decimal] = mapped_column(USD)
