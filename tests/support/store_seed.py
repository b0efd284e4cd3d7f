"""Seed storage straight through its verbs: a tenant of its own and its queued jobs."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from storage import bulk
from storage.db import session_scope
from storage.jobs import NewJob
from storage.models import Job
from storage.tenants import create_tenant


def new_job(tenant_id: uuid.UUID, **values: Any) -> NewJob:
    """A job row of the built-in invoice extractor, tier low, with no document."""
    row: dict[str, Any] = {
        "tenant_id": tenant_id,
        "schema_name": "invoice",
        "schema_version": "1",
        "prompt_version": "1",
        "tier": "low",
        "tier_reason": "test",
        "document_sha256": None,
    }
    return NewJob(**{**row, **values})


def tenant_with_jobs(
    pg_url: str, *, prefix: str, n: int = 1, budget: Decimal = Decimal(10)
) -> tuple[uuid.UUID, list[uuid.UUID]]:
    """A new tenant (named `prefix-<random>`) with `n` queued invoice jobs; their ids."""
    with session_scope(pg_url) as session:
        tenant = create_tenant(
            session=session,
            name=f"{prefix}-{uuid.uuid4().hex[:8]}",
            monthly_budget_usd=budget,
            concurrency=4,
        )
        bulk.insert_jobs(session=session, rows=[new_job(tenant.id)] * n)
        job_ids = list(session.scalars(select(Job.id).where(Job.tenant_id == tenant.id)))
        return tenant.id, job_ids
