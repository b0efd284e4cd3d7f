"""Queued and claimed jobs for the claim and finish tests: a document, webhook, batch as asked."""

from __future__ import annotations

import uuid

from storage import documents
from storage import jobs as job_store
from storage.db import session_scope
from storage.models import Batch
from tasks.worker.store import PostgresJobStore
from tests.support.store_seed import new_job, tenant_with_jobs


def queued_job(
    pg_url: str, *, text_: str | None = None, webhook: str | None = None, batch: bool = False
) -> uuid.UUID:
    """A queued job of a new tenant; `batch` puts it in a batch without a webhook."""
    tenant_id, _ = tenant_with_jobs(pg_url, prefix="ends", n=0)
    with session_scope(pg_url) as session:
        sha = None
        if text_ is not None:
            sha = documents.put_document(session=session, text_=text_, kind="text", tokens=3)
        batch_id = None
        if batch:
            row = Batch(tenant_id=tenant_id, schema_name="invoice", tier="low", total=1, meta={})
            session.add(row)
            session.flush()
            batch_id = row.id
        new = new_job(tenant_id, document_sha256=sha, webhook_url=webhook, batch_id=batch_id)
        job, _ = job_store.create_job(session=session, new=new)
        return job.id


def running_job(
    pg_url: str, *, webhook: str | None = None, batch: bool = False
) -> tuple[uuid.UUID, int]:
    """A job claimed by the worker store: its id and attempt."""
    job_id = queued_job(pg_url, webhook=webhook, batch=batch)
    claimed = PostgresJobStore().claim(job_id=job_id, worker="test:1", lease_s=60)
    assert claimed is not None
    return job_id, claimed[0].attempts
