"""SQLAlchemy models of extractors: a named schema per owner, and its immutable versions."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import JSON, DateTime, Double, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from storage.models import Base, _now


class Extractor(Base):
    """A tenant's (or, with no tenant, the system's) named extractor."""

    __tablename__ = "extractors"
    __table_args__ = (
        # NULLS NOT DISTINCT: the system owns each built-in name once, like a tenant does.
        UniqueConstraint(
            "tenant_id", "name", name="uq_extractors_owner_name", postgresql_nulls_not_distinct=True
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    tenant_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE")
    )
    name: Mapped[str] = mapped_column(String(64))
    description: Mapped[str] = mapped_column(Text, default="")
    latest_version: Mapped[int] = mapped_column(Integer, default=0)
    archived_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    # Trust settings (mutable, unlike versions); None: the tenant's, then the TOML's.
    review_threshold: Mapped[float | None] = mapped_column(Double)
    verify: Mapped[str | None] = mapped_column(String(32))  # none | self_consistency
    created_at: Mapped[dt.datetime] = _now()


class ExtractorVersion(Base):
    """One immutable version: the schema as submitted, the instructions and their hashes."""

    __tablename__ = "extractor_versions"
    __table_args__ = (UniqueConstraint("extractor_id", "version"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    extractor_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("extractors.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    description: Mapped[str] = mapped_column(Text, default="")
    # json, not jsonb: jsonb reorders keys, and the order of properties is the tenant's
    # (providers and models see the schema exactly as it was written).
    json_schema: Mapped[dict[str, Any]] = mapped_column(JSON)
    instructions: Mapped[str | None] = mapped_column(Text)
    # The rendered prompt template: a version reproduces exactly, whatever later code says.
    prompt_system: Mapped[str] = mapped_column(Text)
    prompt_user: Mapped[str] = mapped_column(Text)
    schema_hash: Mapped[str] = mapped_column(String(64))  # of the schema providers see
    prompt_hash: Mapped[str] = mapped_column(String(64))  # of the rendered prompt template
    content_hash: Mapped[str] = mapped_column(String(64))  # of everything submitted
    created_at: Mapped[dt.datetime] = _now()
