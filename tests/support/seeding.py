"""Put jobs into a stack: through the API, or straight into storage for big batches."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage import jobs as job_store
from storage.bulk import insert_jobs as insert_rows
from storage.documents import put_document
from storage.models import Job
from tests.support.stacks import LiveStack
from tests.support.tenants import Tenant


def submit(
    live: LiveStack,
    texts: list[str],
    *,
    tenant: Tenant | None = None,
    tier: str = "low",
    schema: str = "document_summary",
) -> list[str]:
    """POST one job per text through the API (8 at once); returns the ids in text order."""
    with live.client(tenant) as client:

        def post(body: str) -> str:
            resp = client.post("/v1/jobs", json={"schema": schema, "tier": tier, "text": body})
            assert resp.status_code == 202, resp.text
            job_id: str = resp.json()["id"]
            return job_id

        with ThreadPoolExecutor(8) as pool:
            return list(pool.map(post, texts))


def _job_rows(
    session: Session, *, tenant_id: uuid.UUID, texts: list[str], schema: str, tier: str
) -> list[job_store.NewJob]:
    """One queued job per text, its document stored, built with the API's storage verbs."""
    from schemas.extraction.registry import get_schema
    from tasks.documents.tokens import estimate_tokens

    spec = get_schema(schema)
    return [
        job_store.NewJob(
            tenant_id=tenant_id,
            schema_name=spec.name,
            schema_version=spec.version,
            prompt_version=spec.prompt.version,
            tier=tier,
            tier_reason="requested",
            document_sha256=put_document(
                session=session, text_=body, kind="text", tokens=estimate_tokens(body)
            ),
        )
        for body in texts
    ]


def seed(
    live: LiveStack,
    texts: list[str],
    *,
    tenant: Tenant | None = None,
    tier: str = "low",
    schema: str = "document_summary",
) -> int:
    """Queue one job per text with the storage verbs the API uses, in one transaction.

    A thousand HTTP submissions take a minute on a loaded 2-core machine; these tests are
    about what happens after the API, so big batches go in this way.
    """
    who = uuid.UUID((tenant or live.alice).id)
    with live.session() as session:
        rows = _job_rows(session, tenant_id=who, texts=texts, schema=schema, tier=tier)
        return insert_rows(session=session, rows=rows)


def insert_jobs(
    live: LiveStack,
    tenant: Tenant,
    texts: list[str],
    *,
    schema: str = "document_summary",
    tier: str = "low",
) -> list[uuid.UUID]:
    """Queue one job per text in one transaction (the API's storage verbs, minus HTTP)."""
    tenant_id = uuid.UUID(tenant.id)
    with live.session() as session:
        before = set(session.scalars(select(Job.id).where(Job.tenant_id == tenant_id)))
        rows = _job_rows(session, tenant_id=tenant_id, texts=texts, schema=schema, tier=tier)
        assert insert_rows(session=session, rows=rows) == len(texts)
        after = session.scalars(select(Job.id).where(Job.tenant_id == tenant_id)).all()
    return [job_id for job_id in after if job_id not in before]
