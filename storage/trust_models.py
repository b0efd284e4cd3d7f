"""SQLAlchemy models of trust: the review audit trail, and scans kept for the worker's OCR."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, LargeBinary, String
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from storage.models import Base, _now


class JobReview(Base):
    """One review of a job: who, when, and the result before and after (never rewritten)."""

    __tablename__ = "job_reviews"
    __table_args__ = (Index("ix_job_reviews_job", "job_id", "id"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    job_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"))
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    api_key_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("api_keys.id", ondelete="SET NULL")
    )
    reviewer: Mapped[str] = mapped_column(String(200))  # the key's prefix or a given name
    action: Mapped[str] = mapped_column(String(16))  # approved | corrected
    version: Mapped[int] = mapped_column(Integer)  # the result version this review wrote
    corrections: Mapped[dict[str, Any]] = mapped_column(JSONB)  # pointer -> {before, after}
    before: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    created_at: Mapped[dt.datetime] = _now()


class DocumentSource(Base):
    """The uploaded bytes of a document that needs OCR, read once by the worker's OCR."""

    __tablename__ = "document_sources"

    sha256: Mapped[str] = mapped_column(
        ForeignKey("documents.sha256", ondelete="CASCADE"), primary_key=True
    )
    content: Mapped[bytes] = mapped_column(LargeBinary)
    kind: Mapped[str] = mapped_column(String(16))  # pdf | image
    pages: Mapped[list[int]] = mapped_column(JSONB)  # 1-based pages to OCR (all for images)
    total_pages: Mapped[int] = mapped_column(Integer)
    # A PDF's pages that had a text layer, by 1-based number: the OCR'd pages join them.
    page_texts: Mapped[dict[str, str]] = mapped_column(JSONB, server_default="{}")
    created_at: Mapped[dt.datetime] = _now()
