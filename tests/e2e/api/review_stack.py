"""What the review e2e tests share: jobs seeded as a finished extraction leaves them."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from sqlalchemy import select

from storage import batches as batch_store
from storage.extractor_models import Extractor, ExtractorVersion
from storage.models import Job
from tests.integration.storage.review_seed import seed_job
from tests.support.stacks import LiveStack
from tests.support.tenants import Tenant

# A consistent correction of the seeded invoice: one more widget, totals to match.
MORE = {"/line_items/0/quantity": 3, "/line_items/0/amount": 150, "/subtotal": 150, "/total": 155}
CLAIMS: dict[str, Any] = {
    "type": "object",
    "properties": {
        "claim_number": {"type": "string"},
        "kind": {"enum": ["auto", "home"]},
        "amount": {"type": "number", "minimum": 0},
    },
    "required": ["claim_number", "kind", "amount"],
    "additionalProperties": False,
}
CLAIM = {"claim_number": "CLM-1", "kind": "home", "amount": 120.5}


def invoice_version(stack: LiveStack, client: httpx.Client) -> uuid.UUID:
    """The built-in invoice extractor's latest version, as the API registered it."""
    assert client.get("/v1/extractors").status_code == 200  # the API registers built-ins
    with stack.session() as session:
        found = session.scalar(
            select(ExtractorVersion.id)
            .join(Extractor, Extractor.id == ExtractorVersion.extractor_id)
            .where(Extractor.tenant_id.is_(None), Extractor.name == "invoice")
            .order_by(ExtractorVersion.version.desc())
        )
    assert found is not None
    return found


def batch(stack: LiveStack, tenant: Tenant, n: int, version: uuid.UUID) -> tuple[str, list[str]]:
    """A batch of `n` invoice jobs waiting for review; its id and theirs in keyset order."""
    with stack.session() as session:
        batch = batch_store.open_batch(
            session=session,
            tenant_id=uuid.UUID(tenant.id),
            schema_name="invoice@1",
            tier="low",
            webhook_url=None,
            key=None,
        )
        ids = [
            seed_job(
                session,
                uuid.UUID(tenant.id),
                batch_id=batch.id,
                extractor_version_id=version,
                key=f"doc:inv-{i}",
                filename=f"inv-{i}.pdf",
            )
            for i in range(n)
        ]
        return str(batch.id), [str(i) for i in sorted(ids)]


def job(stack: LiveStack, tenant: Tenant, **kwargs: Any) -> str:
    """One seeded job (review_seed.seed_job's options); its id."""
    with stack.session() as session:
        return str(seed_job(session, uuid.UUID(tenant.id), **kwargs))


def stored(stack: LiveStack, job_id: str) -> Job:
    """The job's row as the database holds it."""
    with stack.session() as session:
        job = session.get(Job, uuid.UUID(job_id))
        assert job is not None
        return job


def queue(client: httpx.Client, **params: Any) -> tuple[list[dict[str, Any]], int]:
    """Every page of GET /v1/review under `params`: the items and the last `pending`."""
    items: list[dict[str, Any]] = []
    pending = -1
    cursor = None
    for _ in range(20):
        page = client.get("/v1/review", params={**params, **({"cursor": cursor} if cursor else {})})
        assert page.status_code == 200, page.text
        body = page.json()
        items += body["items"]
        pending = body["pending"]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    return items, pending
