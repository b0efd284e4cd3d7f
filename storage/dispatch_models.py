"""SQLAlchemy model of the scheduler's work list: one row per tier and tenant with waiting work."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import DateTime, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from storage.models import Base


class TierQueue(Base):
    """Where a tenant's queue of one tier starts, so the pick reads 64 rows, not 1,000 probes.

    `head` is never later than the created_at of the tenant's oldest waiting job of the tier
    (queued, undispatched, not parked): triggers on `jobs` lower it whenever a row becomes
    waiting (migration 0011), and the scheduler raises it after each pick
    (`storage.picks.refresh_heads`). It is 'infinity' when nothing waits. A head that is too
    early only costs the pick one empty probe; one that is too late would starve the tenant,
    which is why only the scheduler raises it, and only on rows it holds locked.
    """

    __tablename__ = "tier_queues"
    __table_args__ = (Index("ix_tier_queues_head", "tier", "head"),)

    tier: Mapped[str] = mapped_column(String(8), primary_key=True)
    tenant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True
    )
    head: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
