"""The worker's job store on Postgres: each verb one short transaction (or autocommit).

Writes meet a refused or dropped connection with a retry (storage/retrying.py). Each is
safe to repeat: lease and release are fenced by the attempt; a finish or a ledger row
whose first try may have committed before its answer was lost is checked before it is
written again.
"""

from __future__ import annotations

import dataclasses
import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from schemas.config import get_settings
from schemas.jobs import JobStatus
from storage import extractors as extractor_store
from storage import jobs as job_store
from storage import scans
from storage.db import session_scope
from storage.extractor_models import Extractor, ExtractorVersion
from storage.ledger import (
    IN_FLIGHT,
    UNKNOWN,
    CallResult,
    CallRow,
    call_outcome,
    close_call,
    find_call,
    judge_call,
    open_call,
    record_call,
)
from storage.models import Job
from storage.retrying import retry_transient
from storage.scans import OcrText, ScanClaim
from tasks.worker.finished import on_job_finished
from tasks.worker.ports import Terminal


class PostgresJobStore:
    """`JobStore` over storage's verbs."""

    def claim(self, *, job_id: uuid.UUID, worker: str, lease_s: float) -> tuple[Job, str] | None:
        """Claim the job; its document text comes back in the same statement."""
        with session_scope(autocommit=True) as session:  # one UPDATE ... RETURNING
            return job_store.claim_with_text(
                session=session, job_id=job_id, worker=worker, lease_s=lease_s
            )

    def renew_lease(self, *, job_id: uuid.UUID, attempt: int, lease_s: float) -> bool:
        """Extend the attempt's lease (fenced, and repeating it only extends it again)."""

        def renew() -> bool:
            with session_scope(autocommit=True) as session:  # one UPDATE
                return job_store.renew_lease(
                    session=session, job_id=job_id, attempt=attempt, lease_s=lease_s
                )

        return retry_transient("renew_lease", renew)

    def release(self, *, job_id: uuid.UUID, attempt: int) -> bool:
        """Hand the attempt back to the queue (fenced)."""
        tries = 0

        def release() -> bool:
            nonlocal tries
            tries += 1
            with session_scope() as session:
                if job_store.release(session=session, job_id=job_id, attempt=attempt):
                    return True
                # a retry: did the first try commit before its answer was lost?
                return tries > 1 and _landed(session, job_id, attempt, JobStatus.QUEUED)

        return retry_transient("release", release)

    def finish(
        self, *, job_id: uuid.UUID, attempt: int, outcome: Terminal
    ) -> job_store.Finished | None:
        """Write the terminal state (fenced); one statement, atomic on its own."""
        tries = 0

        def finish() -> job_store.Finished | None:
            nonlocal tries
            tries += 1
            with session_scope(autocommit=True) as session:
                done = job_store.finish(
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
                    trust=dataclasses.asdict(outcome.trust) if outcome.trust else None,
                )
                if done is not None or tries == 1:
                    return done
                # Fenced, or a retry whose first try committed before its answer was lost:
                # then the row already shows this attempt's outcome, and it is ours.
                return job_store.landed(
                    session=session, job_id=job_id, attempt=attempt, status=outcome.status
                )

        wall = get_settings().app.db_retry.terminal_max_wall_s
        return retry_transient("finish", finish, max_wall_s=wall)

    def load_extractor(self, version_id: uuid.UUID) -> tuple[Extractor, ExtractorVersion] | None:
        """An extractor version by id (immutable, so callers cache it)."""

        def load() -> tuple[Extractor, ExtractorVersion] | None:
            with session_scope() as session:
                found = extractor_store.load_version(session=session, version_id=version_id)
                if found is not None:
                    session.expunge_all()  # read after the session closes
                return found

        return retry_transient("load_extractor", load)

    def find_reusable(self, *, job: Job, model: str) -> Job | None:
        """An earlier identical extraction of the same tenant, if any."""

        def find() -> Job | None:
            with session_scope() as session:
                return job_store.find_reusable(
                    session=session,
                    tenant_id=job.tenant_id,
                    document_sha256=job.document_sha256 or "",
                    schema_name=job.schema_name,
                    schema_version=job.schema_version,
                    prompt_version=job.prompt_version,
                    schema_hash=job.schema_hash,
                    model=model,
                )

        return retry_transient("find_reusable", find)

    def record_call(self, *, row: CallRow) -> None:
        """Append one ledger row (once, even when a retry follows a lost answer)."""
        tries = 0

        def insert() -> None:
            nonlocal tries
            tries += 1
            with session_scope(autocommit=True) as session:  # one INSERT: no BEGIN/COMMIT trips
                # The INSERT is not idempotent: on a retry, look for the first try's row
                # (job, attempt and seq name one call) before writing a second one.
                if tries == 1 or _recorded(session, row) is None:
                    record_call(session=session, row=row)

        retry_transient("ledger_insert", insert)

    def open_call(self, *, row: CallRow) -> int:
        """Write a call's in-flight row before it is sent (once, even across a lost answer)."""
        tries = 0

        def insert() -> int:
            nonlocal tries
            tries += 1
            with session_scope(autocommit=True) as session:
                earlier = _recorded(session, row) if tries > 1 else None
                return earlier if earlier is not None else open_call(session=session, row=row)

        return retry_transient("ledger_open", insert)

    def close_call(self, *, call_id: int, result: CallResult) -> bool:
        """Complete an opened call with its usage and cost (one fenced UPDATE, retried)."""
        tries = 0

        def complete() -> bool:
            nonlocal tries
            tries += 1
            with session_scope(autocommit=True) as session:
                if close_call(session=session, call_id=call_id, result=result):
                    return True
                # a retry: the first try may have landed; only the reconciler writes unknown
                return tries > 1 and _outcome(session, call_id) not in (IN_FLIGHT, UNKNOWN)

        return retry_transient("ledger_close", complete)

    def judge_call(self, *, call_id: int, outcome: str) -> None:
        """Record a replayed batch answer's verdict on its billed row (idempotent)."""

        def judge() -> None:
            with session_scope(autocommit=True) as session:
                judge_call(session=session, call_id=call_id, outcome=outcome)

        retry_transient("ledger_judge", judge)

    def ocr_text(self, *, sha256: str) -> OcrText | None:
        """A scan's stored OCR text and words (storage/scans.py)."""

        def read() -> OcrText | None:
            with session_scope(autocommit=True) as session:
                return scans.ocr_text(session=session, sha256=sha256)

        return retry_transient("ocr_text", read)

    def claim_scan(self, *, sha256: str, stale_s: float) -> ScanClaim:
        """Take a scan's OCR, or learn where it stands (storage/scans.py)."""

        def claim() -> ScanClaim:
            with session_scope() as session:
                return scans.claim_scan(session=session, sha256=sha256, stale_s=stale_s)

        return retry_transient("claim_scan", claim)

    def fail_scan(self, *, sha256: str, message: str) -> None:
        """Record that a scan cannot be read."""

        def fail() -> None:
            with session_scope() as session:
                scans.fail_scan(session=session, sha256=sha256, message=message)

        retry_transient("fail_scan", fail)

    def save_ocr(self, *, sha256: str, read: OcrText) -> OcrText:
        """Store a scan's OCR once (a repeat finds it stored and returns that)."""

        def save() -> OcrText:
            with session_scope() as session:
                return scans.save_ocr(session=session, sha256=sha256, read=read)

        return retry_transient("save_ocr", save)

    def on_finished(self, *, finished: job_store.Finished) -> None:
        """Count, log and owe the job's webhooks (tasks/worker/finished.py)."""
        on_job_finished(finished)


def _landed(session: Session, job_id: uuid.UUID, attempt: int, status: JobStatus) -> bool:
    """Whether the job's row shows `attempt` at `status` (an earlier try's write landed)."""
    row = session.execute(select(Job.status, Job.attempts).where(Job.id == job_id)).first()
    return row is not None and row.attempts == attempt and row.status == status


def _recorded(session: Session, row: CallRow) -> int | None:
    """The id of this call's row if the ledger holds it already (its job, attempt and seq)."""
    return find_call(session=session, job_id=row.job_id, attempt=row.attempt, seq=row.seq)


def _outcome(session: Session, call_id: int) -> str | None:
    """A ledger row's outcome now."""
    return call_outcome(session=session, call_id=call_id)
