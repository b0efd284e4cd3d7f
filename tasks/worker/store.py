"""The worker's job store on Postgres: each verb one short transaction (or autocommit)."""

from __future__ import annotations

import uuid

from storage import jobs as job_store
from storage.db import session_scope
from storage.documents import get_document_text
from storage.ledger import CallRow, record_call
from storage.models import Job
from tasks.worker.finished import on_job_finished
from tasks.worker.ports import Terminal


class PostgresJobStore:
    """`JobStore` over storage's verbs."""

    def claim(self, *, job_id: uuid.UUID, worker: str, lease_s: float) -> tuple[Job, str] | None:
        """Claim the job and read its text in one autocommit session."""
        # Autocommit: the claim is one atomic UPDATE, and the text read needs no transaction.
        with session_scope(autocommit=True) as session:
            job = job_store.claim(session=session, job_id=job_id, worker=worker, lease_s=lease_s)
            if job is None:
                return None
            text = (
                get_document_text(session=session, sha256=job.document_sha256)
                if job.document_sha256
                else ""
            )
        return job, text

    def renew_lease(self, *, job_id: uuid.UUID, attempt: int, lease_s: float) -> bool:
        """Extend the attempt's lease (fenced)."""
        with session_scope() as session:
            return job_store.renew_lease(
                session=session, job_id=job_id, attempt=attempt, lease_s=lease_s
            )

    def release(self, *, job_id: uuid.UUID, attempt: int) -> bool:
        """Hand the attempt back to the queue (fenced)."""
        with session_scope() as session:
            return job_store.release(session=session, job_id=job_id, attempt=attempt)

    def finish(self, *, job_id: uuid.UUID, attempt: int, outcome: Terminal) -> bool:
        """Write the terminal state (fenced); the UPDATE is atomic on its own."""
        with session_scope(autocommit=True) as session:
            return job_store.finish(
                session=session,
                job_id=job_id,
                attempt=attempt,
                status=outcome.status,
                result=outcome.result,
                model=outcome.model,
                chunks=outcome.chunks,
                cache_hit=outcome.cache_hit,
                error_type=outcome.error_type,
                error_message=outcome.error_message,
            )

    def find_reusable(self, *, job: Job, model: str) -> Job | None:
        """An earlier identical extraction of the same tenant, if any."""
        with session_scope() as session:
            return job_store.find_reusable(
                session=session,
                tenant_id=job.tenant_id,
                document_sha256=job.document_sha256 or "",
                schema_name=job.schema_name,
                schema_version=job.schema_version,
                prompt_version=job.prompt_version,
                model=model,
            )

    def record_call(self, *, row: CallRow) -> None:
        """Append one ledger row."""
        with session_scope(autocommit=True) as session:  # one INSERT: no BEGIN/COMMIT trips
            record_call(session=session, row=row)

    def on_finished(self, *, job_id: uuid.UUID) -> None:
        """Count, log and owe the job's webhooks (tasks/worker/finished.py)."""
        on_job_finished(job_id)
