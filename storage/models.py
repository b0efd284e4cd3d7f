"""SQLAlchemy 2 models: tenants, keys, documents, batches, jobs, ledger, budgets, webhooks."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any, ClassVar

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Double,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
USD = Numeric(14, 6)  # costs are exact to 1e-6 USD
NULLABLE_JSONB = JSONB(none_as_null=True)  # None is SQL NULL (not JSON 'null'): IS NULL works


def _now() -> Any:
    return mapped_column(DateTime(timezone=True), server_default=func.now(), nullable=False)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        dict[str, Any]: JSONB,
        uuid.UUID: UUID(as_uuid=True),
    }


class Tenant(Base):
    __tablename__ = "tenants"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    monthly_budget_usd: Mapped[Decimal] = mapped_column(USD)
    daily_budget_usd: Mapped[Decimal | None] = mapped_column(USD)
    concurrency: Mapped[int] = mapped_column(Integer)
    webhook_secret: Mapped[str] = mapped_column(String(128))
    review_threshold: Mapped[float | None] = mapped_column(Double)  # None: the TOML's
    on_mismatch: Mapped[str | None] = mapped_column(String(16))  # fail | review; None: TOML
    retention_days: Mapped[int | None] = mapped_column(Integer)  # None: the TOML's [retention]
    created_at: Mapped[dt.datetime] = _now()


class ApiKey(Base):
    __tablename__ = "api_keys"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    prefix: Mapped[str] = mapped_column(String(16), index=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)  # sha256 hex, never the key
    created_at: Mapped[dt.datetime] = _now()
    expires_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class Document(Base):
    """Document text stored once, addressed by the sha256 of the text."""

    __tablename__ = "documents"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    text: Mapped[str] = mapped_column(Text)
    chars: Mapped[int] = mapped_column(Integer)
    tokens: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16))
    # none | pending (storage/trust_models.DocumentSource has the bytes) | running (a worker
    # claimed its OCR) | done | failed. ocr_words: [[start, end, conf], ...] in `text`.
    ocr_state: Mapped[str] = mapped_column(String(16), server_default="none")
    ocr_pages: Mapped[list[int] | None] = mapped_column(NULLABLE_JSONB)
    ocr_words: Mapped[list[list[float]] | None] = mapped_column(NULLABLE_JSONB)
    ocr_warnings: Mapped[list[str] | None] = mapped_column(NULLABLE_JSONB)  # cut; why failed
    ocr_claimed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[dt.datetime] = _now()


class Batch(Base):
    __tablename__ = "batches"
    __table_args__ = (Index("ix_batches_tenant_created", "tenant_id", "created_at", "id"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    schema_name: Mapped[str] = mapped_column(String(80))  # `name@version`
    tier: Mapped[str] = mapped_column(String(8))
    lane: Mapped[str] = mapped_column(String(8), server_default="realtime")  # as asked
    total: Mapped[int] = mapped_column(Integer, default=0)
    webhook_url: Mapped[str | None] = mapped_column(Text)
    meta: Mapped[dict[str, Any]] = mapped_column("metadata", default=dict)
    created_at: Mapped[dt.datetime] = _now()
    cancelled_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class Job(Base):
    __tablename__ = "jobs"
    __table_args__ = (
        UniqueConstraint("tenant_id", "idempotency_key", name="uq_jobs_tenant_idempotency"),
        Index("ix_jobs_tenant_created", "tenant_id", "created_at", "id"),
        Index("ix_jobs_tenant_document", "tenant_id", "document_sha256"),
        Index("ix_jobs_document", "document_sha256"),  # is a document still used? (erasure)
        Index("ix_jobs_batch_status", "batch_id", "status"),
        Index("ix_jobs_batch_created", "batch_id", "created_at", "id"),
        # The scheduler's work list: small, because dispatched rows leave it.
        Index(
            "ix_jobs_undispatched",
            "tier",
            "tenant_id",
            "created_at",
            postgresql_where=text(
                "status = 'queued' AND dispatched_at IS NULL AND parked_at IS NULL"
            ),
        ),
        Index(  # the batch lane's waiting jobs (storage/lane.py)
            "ix_jobs_parked", "tenant_id", postgresql_where=text("parked_at IS NOT NULL")
        ),
        Index(  # GET /v1/review: a tenant's pending reviews, oldest first
            "ix_jobs_review_pending",
            "tenant_id",
            "created_at",
            "id",
            postgresql_where=text("review_state = 'pending'"),
        ),
        Index(  # what holds a tenant's slots: running, or published and not yet claimed
            "ix_jobs_in_flight",
            "tier",
            "tenant_id",
            postgresql_where=text(
                "status = 'running' OR (status = 'queued' AND dispatched_at IS NOT NULL)"
            ),
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    batch_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("batches.id", ondelete="CASCADE"))
    idempotency_key: Mapped[str | None] = mapped_column(String(255))
    request_hash: Mapped[str | None] = mapped_column(String(64))
    document_sha256: Mapped[str | None] = mapped_column(ForeignKey("documents.sha256"))
    filename: Mapped[str | None] = mapped_column(String(512))
    schema_name: Mapped[str] = mapped_column(String(64))
    schema_version: Mapped[str] = mapped_column(String(32))
    prompt_version: Mapped[str] = mapped_column(String(32))
    # The exact extractor version, schema and prompt that made the result (NULL: older rows).
    extractor_version_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("extractor_versions.id")
    )
    schema_hash: Mapped[str | None] = mapped_column(String(64))
    prompt_hash: Mapped[str | None] = mapped_column(String(64))
    tier: Mapped[str] = mapped_column(String(8))
    tier_reason: Mapped[str] = mapped_column(Text, default="")
    # realtime | batch (a provider's batch API, half price): chosen at submission (README)
    lane: Mapped[str] = mapped_column(String(8), server_default="realtime")
    lane_reason: Mapped[str] = mapped_column(Text, server_default="")
    deadline: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    # Set while the job waits on a provider batch (storage/lane_models): not the scheduler's.
    parked_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    status: Mapped[str] = mapped_column(String(16), default="queued")
    attempts: Mapped[int] = mapped_column(Integer, default=0)  # also the write fence
    model: Mapped[str | None] = mapped_column(String(64))
    chunks: Mapped[int | None] = mapped_column(Integer)
    reuse: Mapped[bool] = mapped_column(Boolean, default=False)
    cache_hit: Mapped[bool] = mapped_column(Boolean, default=False)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSONB)  # the final values
    # Trust (README "Trust"): per-field verdicts, review state, and the extraction as first
    # written once a review corrected it (storage/trust_models.JobReview has the trail).
    evidence: Mapped[list[dict[str, Any]] | None] = mapped_column(NULLABLE_JSONB)
    confidence: Mapped[float | None] = mapped_column(Double)  # the lowest field's
    review_state: Mapped[str | None] = mapped_column(String(16))
    document_fit: Mapped[dict[str, Any] | None] = mapped_column(NULLABLE_JSONB)
    original_result: Mapped[dict[str, Any] | None] = mapped_column(NULLABLE_JSONB)
    result_version: Mapped[int] = mapped_column(Integer, server_default="1")
    trust_policy: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default="{}")
    warnings: Mapped[list[str]] = mapped_column(JSONB, server_default="[]")
    ocr_pages: Mapped[list[int] | None] = mapped_column(NULLABLE_JSONB)
    error_type: Mapped[str | None] = mapped_column(String(64))
    error_message: Mapped[str | None] = mapped_column(Text)
    input_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    output_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    cost_usd: Mapped[Decimal] = mapped_column(USD, default=Decimal(0))
    meta: Mapped[dict[str, Any]] = mapped_column("metadata", default=dict)
    webhook_url: Mapped[str | None] = mapped_column(Text)
    worker: Mapped[str | None] = mapped_column(String(200))
    lease_expires_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[dt.datetime] = _now()
    dispatched_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    started_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class LlmCall(Base):
    """The usage ledger: one row per provider call, re-asks and failures included."""

    __tablename__ = "llm_calls"
    __table_args__ = (
        Index("ix_llm_calls_job", "job_id", "attempt"),
        Index("ix_llm_calls_tenant_created", "tenant_id", "created_at"),
        Index(
            "ix_llm_calls_in_flight",
            "created_at",
            postgresql_where=text("outcome = 'in_flight'"),
        ),
        CheckConstraint("lane IN ('realtime', 'batch')", name="lane"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    job_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"))
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    attempt: Mapped[int] = mapped_column(Integer)
    seq: Mapped[int] = mapped_column(Integer)
    tier: Mapped[str] = mapped_column(String(8))
    provider: Mapped[str] = mapped_column(String(16))
    model: Mapped[str] = mapped_column(String(64))
    chunk: Mapped[int | None] = mapped_column(Integer)
    input_tokens: Mapped[int] = mapped_column(Integer, default=0)
    output_tokens: Mapped[int] = mapped_column(Integer, default=0)
    cached_tokens: Mapped[int] = mapped_column(Integer, default=0)
    cache_write_tokens: Mapped[int] = mapped_column(Integer, server_default="0")  # Anthropic
    cost_usd: Mapped[Decimal] = mapped_column(USD, default=Decimal(0))
    latency_ms: Mapped[int] = mapped_column(Integer, default=0)
    outcome: Mapped[str] = mapped_column(String(32))
    status_code: Mapped[int | None] = mapped_column(Integer)
    # realtime (POST /v1/jobs, /v1/batches today) or batch (a provider's batch API, later)
    lane: Mapped[str] = mapped_column(String(16), server_default="realtime")
    created_at: Mapped[dt.datetime] = _now()


class TenantSpend(Base):
    """Settled spend and open reservations per tenant per period ('2026-11' or '2026-11-23')."""

    __tablename__ = "tenant_spend"

    tenant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True
    )
    period: Mapped[str] = mapped_column(String(10), primary_key=True)
    spent_usd: Mapped[Decimal] = mapped_column(USD, default=Decimal(0))
    reserved_usd: Mapped[Decimal] = mapped_column(USD, default=Decimal(0))


class BudgetReservation(Base):
    """Worst-case cost held for one in-flight call until it settles or is released."""

    __tablename__ = "budget_reservations"
    __table_args__ = (
        Index("ix_budget_reservations_open", "tenant_id", "settled_at"),
        # deleting a job (retention, erasure) cascades here: see migration 0014
        Index("ix_budget_reservations_job", "job_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    job_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"))
    month: Mapped[str] = mapped_column(String(10))
    day: Mapped[str] = mapped_column(String(10))
    amount_usd: Mapped[Decimal] = mapped_column(USD)
    # batch: held for a provider batch item (up to its window), not by a live worker call
    lane: Mapped[str] = mapped_column(String(8), server_default="realtime")
    created_at: Mapped[dt.datetime] = _now()
    settled_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


# Registered on the same metadata so the jobs -> extractor_versions foreign key resolves
# wherever Job is used; the module imports Base from here, hence the late import.
from storage import console_models as _console_models  # noqa: E402, F401
from storage import dispatch_models as _dispatch_models  # noqa: E402, F401
from storage import extractor_models as _extractor_models  # noqa: E402, F401
from storage import lane_models as _lane_models  # noqa: E402, F401
from storage import retention_models as _retention_models  # noqa: E402, F401
from storage import trust_models as _trust_models  # noqa: E402, F401
from storage import webhook_models as _webhook_models  # noqa: E402, F401
