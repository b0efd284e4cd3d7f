"""A worker's claim on real Postgres: one statement returns the job and its text.

Issue 14: the text used to be a second SELECT after the claim's UPDATE.
"""

from __future__ import annotations

import uuid

from sqlalchemy import text

from schemas.jobs import JobStatus
from storage.db import session_scope
from tasks.worker.store import PostgresJobStore
from tests.integration.storage.ends_seed import queued_job
from tests.support.pg_count import counting


def test_a_claim_returns_the_job_and_its_document_text_in_one_statement(
    pg_url: str, service_env: dict[str, str]
) -> None:
    body = f"Invoice {uuid.uuid4().hex}: total 12.00 EUR."
    job_id = queued_job(pg_url, text_=body)
    with counting(pg_url) as sent:
        claimed = PostgresJobStore().claim(job_id=job_id, worker="test:1", lease_s=60)
    assert sent.count == 1, sent.statements
    assert claimed is not None
    job, text_ = claimed
    # read after the session closed, as process_job does
    assert (job.id, job.status, job.attempts, job.worker, text_) == (
        job_id,
        JobStatus.RUNNING,
        1,
        "test:1",
        body,
    )
    assert job.lease_expires_at is not None
    assert job.tenant_id is not None


def test_a_claim_of_a_job_without_a_document_reads_empty_text_and_a_second_is_refused(
    pg_url: str, service_env: dict[str, str]
) -> None:
    job_id = queued_job(pg_url)
    claimed = PostgresJobStore().claim(job_id=job_id, worker="test:1", lease_s=60)
    assert claimed is not None
    assert claimed[1] == ""
    # running under a live lease: a duplicate delivery claims nothing
    assert PostgresJobStore().claim(job_id=job_id, worker="test:2", lease_s=60) is None


def test_a_claim_of_a_parked_job_is_refused(pg_url: str, service_env: dict[str, str]) -> None:
    job_id = queued_job(pg_url, text_="Parked memo.")
    with session_scope(pg_url) as session:
        session.execute(text("UPDATE jobs SET parked_at = now() WHERE id = :id"), {"id": job_id})
    assert PostgresJobStore().claim(job_id=job_id, worker="test:1", lease_s=60) is None


def test_a_running_job_whose_lease_ran_out_is_claimed_again_with_its_text(
    pg_url: str, service_env: dict[str, str]
) -> None:
    job_id = queued_job(pg_url, text_="Abandoned memo.")
    assert PostgresJobStore().claim(job_id=job_id, worker="dead:1", lease_s=60) is not None
    with session_scope(pg_url) as session:
        session.execute(
            text("UPDATE jobs SET lease_expires_at = now() - interval '1 s' WHERE id = :id"),
            {"id": job_id},
        )
    claimed = PostgresJobStore().claim(job_id=job_id, worker="test:2", lease_s=60)
    assert claimed is not None
    assert (claimed[0].attempts, claimed[0].worker, claimed[1]) == (2, "test:2", "Abandoned memo.")
