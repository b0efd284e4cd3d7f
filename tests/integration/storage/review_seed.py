"""Jobs as a finished extraction leaves them (succeeded, evidence per leaf), for review tests."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from schemas.extraction.invoice import Invoice
from schemas.jobs import JobStatus
from schemas.trust.fields import FieldOut, leaves
from storage.models import Job
from storage.tenants import create_tenant, issue_key

RAW_INVOICE: dict[str, Any] = {
    "vendor": {"name": "Acme Ltd", "address": None, "tax_id": None},
    "invoice_number": "INV-7",
    "issue_date": "2026-01-05",
    "due_date": None,
    "line_items": [
        {"description": "Widgets", "quantity": 2, "unit_price": 50, "amount": 100},
    ],
    "subtotal": 100,
    "tax": 5,
    "total": 105,
    "currency": "EUR",
}
# As the engine stores an answer: validated by the model, dumped as JSON.
INVOICE: dict[str, Any] = Invoice.model_validate(RAW_INVOICE).model_dump(mode="json")
LOW = 0.35  # the confidence seeded on /total, so the job is below any default threshold


def tenant(session: Session, prefix: str = "review") -> tuple[uuid.UUID, str]:
    """A new tenant and an API key of it."""
    row = create_tenant(
        session=session,
        name=f"{prefix}-{uuid.uuid4().hex[:8]}",
        monthly_budget_usd=Decimal(10),
        concurrency=4,
    )
    return row.id, issue_key(session=session, tenant_id=row.id)


def evidence_for(result: dict[str, Any], low: str = "/total") -> list[dict[str, Any]]:
    """One verified field per leaf (absent for nulls); `low` gets confidence LOW."""
    fields = []
    for path, value in leaves(result):
        field = FieldOut(
            path=path,
            value=value,
            quote=None if value is None else str(value),
            support="absent" if value is None else "verified",
            start=None if value is None else 10,
            end=None if value is None else 20,
            page=None if value is None else 1,
            confidence=LOW if path == low else 0.9,
            signals={"quote": 1.0},
        )
        fields.append(field.model_dump(mode="json"))
    return fields


def seed_job(
    session: Session,
    tenant_id: uuid.UUID,
    *,
    result: dict[str, Any] | None = None,
    review_state: str | None = "pending",
    status: JobStatus = JobStatus.SUCCEEDED,
    batch_id: uuid.UUID | None = None,
    schema_name: str = "invoice",
    schema_version: str = "1",
    extractor_version_id: uuid.UUID | None = None,
    filename: str | None = None,
    key: str | None = None,
    created_at: dt.datetime | None = None,
) -> uuid.UUID:
    """Insert a finished job with a result and its evidence; returns its id."""
    values = dict(INVOICE if result is None else result)
    evidence = evidence_for(values)
    job = Job(
        tenant_id=tenant_id,
        batch_id=batch_id,
        idempotency_key=key,
        filename=filename,
        schema_name=schema_name,
        schema_version=schema_version,
        prompt_version="1",
        extractor_version_id=extractor_version_id,
        tier="low",
        tier_reason="test",
        status=str(status),
        result=values if status == JobStatus.SUCCEEDED else None,
        evidence=evidence if status == JobStatus.SUCCEEDED else None,
        confidence=min(f["confidence"] for f in evidence),
        review_state=review_state,
        document_fit={"fits": True, "reason": "an invoice"},
        finished_at=dt.datetime.now(dt.UTC),
    )
    if created_at is not None:
        job.created_at = created_at
    session.add(job)
    session.flush()
    return job.id
