"""In-memory fakes of the worker core's ports, for unit tests of logic only."""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass, field

from sqlalchemy import inspect

from schemas.jobs import JobStatus
from storage.extractor_models import Extractor, ExtractorVersion
from storage.jobs import Finished
from storage.ledger import CallResult, CallRow
from storage.models import Job
from storage.scans import OcrText, Scan, ScanClaim
from tasks.engine.holds import SeparateHolds
from tasks.worker.ports import Terminal


def _detached(job: Job) -> Job:
    """A copy, as Postgres hands the worker a row: later changes to the store stay apart."""
    return Job(**{attr.key: getattr(job, attr.key) for attr in inspect(Job).column_attrs})


class NoReplays(SeparateHolds):
    """A test ledger's `judged` (these tests replay no batch answers, so none is judged),
    and its holds taken apart from its rows (tasks/engine/holds.py)."""

    def judged(self, *, call_id: int, outcome: str) -> None:
        """Nothing to record: no row was billed by a batcher here."""
        raise AssertionError(f"no replayed answer expected (call {call_id}: {outcome})")


@dataclass
class MemoryJobStore:
    """A `JobStore` over dicts, with the same fence as Postgres: attempt and status."""

    jobs: dict[uuid.UUID, Job] = field(default_factory=dict)
    texts: dict[str, str] = field(default_factory=dict)
    ledger: list[CallRow] = field(default_factory=list)
    finished: list[uuid.UUID] = field(default_factory=list)
    scans: dict[str, Scan] = field(default_factory=dict)
    ocr: dict[str, OcrText] = field(default_factory=dict)
    claimed: set[str] = field(default_factory=set)
    scan_failures: dict[str, str] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, job: Job, text: str) -> Job:
        """Store a queued job and its document text."""
        job.status, job.attempts = JobStatus.QUEUED, 0
        job.document_sha256 = job.document_sha256 or uuid.uuid4().hex
        self.jobs[job.id] = job
        self.texts[job.document_sha256] = text
        return job

    def claim(self, *, job_id: uuid.UUID, worker: str, lease_s: float) -> tuple[Job, str] | None:
        """Queued -> running, one more attempt (no lease clock: nothing expires here)."""
        with self._lock:
            job = self.jobs.get(job_id)
            if job is None or job.status != JobStatus.QUEUED:
                return None
            job.status, job.attempts, job.worker = JobStatus.RUNNING, job.attempts + 1, worker
            return _detached(job), self.texts.get(job.document_sha256 or "", "")

    def _owns(self, job_id: uuid.UUID, attempt: int) -> Job | None:
        job = self.jobs.get(job_id)
        if job is None or job.attempts != attempt or job.status != JobStatus.RUNNING:
            return None
        return job

    def renew_lease(self, *, job_id: uuid.UUID, attempt: int, lease_s: float) -> bool:
        """True while the attempt still owns the job."""
        with self._lock:
            return self._owns(job_id, attempt) is not None

    def release(self, *, job_id: uuid.UUID, attempt: int) -> bool:
        """Running -> queued, fenced."""
        with self._lock:
            job = self._owns(job_id, attempt)
            if job is None:
                return False
            job.status = JobStatus.QUEUED
            return True

    def finish(self, *, job_id: uuid.UUID, attempt: int, outcome: Terminal) -> Finished | None:
        """Write the terminal state, fenced; usage is summed from the ledger like Postgres."""
        with self._lock:
            job = self._owns(job_id, attempt)
            if job is None:
                return None
            job.status, job.result, job.chunks = outcome.status, outcome.result, outcome.chunks
            job.model = outcome.model or job.model
            job.cache_hit = outcome.cache_hit
            job.error_type, job.error_message = outcome.error_type, outcome.error_message
            rows = [r for r in self.ledger if r.job_id == job_id]
            job.input_tokens = sum(r.input_tokens for r in rows)
            job.output_tokens = sum(r.output_tokens for r in rows)
            job.cost_usd = sum((r.cost_usd for r in rows), start=job.cost_usd * 0)
            return Finished(_detached(job))  # no webhooks here

    def load_extractor(self, version_id: uuid.UUID) -> tuple[Extractor, ExtractorVersion] | None:
        """The in-memory store holds built-in jobs only: no stored extractor versions."""
        return None

    def find_reusable(self, *, job: Job, model: str) -> Job | None:
        """An earlier succeeded job of the tenant with the same document, schema and model."""
        for other in self.jobs.values():
            same = (other.tenant_id, other.document_sha256, other.schema_name) == (
                job.tenant_id,
                job.document_sha256,
                job.schema_name,
            )
            done = other.status == JobStatus.SUCCEEDED and other.model == model
            if same and done and other.id != job.id:
                return other
        return None

    def record_call(self, *, row: CallRow) -> None:
        """Append one ledger row."""
        with self._lock:
            self.ledger.append(row)

    def open_call(self, *, row: CallRow) -> int:
        """Append an in-flight row; its index is its id."""
        with self._lock:
            self.ledger.append(row)
            return len(self.ledger) - 1

    def judge_call(self, *, call_id: int, outcome: str) -> None:
        """Set a billed row's outcome, as the UPDATE of an `ok` row does."""
        with self._lock:
            row = self.ledger[call_id]
            if row.outcome == "ok":
                self.ledger[call_id] = CallRow(**{**row.__dict__, "outcome": outcome})

    def close_call(self, *, call_id: int, result: CallResult) -> bool:
        """Complete an in-flight row, as the fenced UPDATE does."""
        with self._lock:
            row = self.ledger[call_id]
            if row.outcome != "in_flight":
                return False
            self.ledger[call_id] = CallRow(**{**row.__dict__, **result.__dict__})
            return True

    def ocr_text(self, *, sha256: str) -> OcrText | None:
        """The scans this store OCR'd (by `save_ocr`)."""
        return self.ocr.get(sha256)

    def claim_scan(self, *, sha256: str, stale_s: float) -> ScanClaim:
        """Scans added to `scans`: the first claim takes one, later ones find it busy."""
        with self._lock:
            if sha256 in self.ocr:
                return ScanClaim("done", read=self.ocr[sha256])
            if sha256 in self.scan_failures:
                return ScanClaim("failed", message=self.scan_failures[sha256])
            if sha256 in self.claimed or sha256 not in self.scans:
                return ScanClaim("busy")
            self.claimed.add(sha256)
            return ScanClaim("claimed", scan=self.scans[sha256])

    def fail_scan(self, *, sha256: str, message: str) -> None:
        """Remember why a scan cannot be read."""
        self.scan_failures.setdefault(sha256, message)

    def save_ocr(self, *, sha256: str, read: OcrText) -> OcrText:
        """The first OCR of a scan wins."""
        return self.ocr.setdefault(sha256, read)

    def on_finished(self, *, finished: Finished) -> None:
        """Remember that the after-finish duties ran, and for which job."""
        self.finished.append(finished.job.id)
