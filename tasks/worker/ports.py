"""What the worker core needs from the job store, as a Protocol.

Postgres implements it in production (tasks/worker/store.py); the unit tests of
`process_job` pass an in-memory one (tests/support/fakes.py).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any, Protocol

from schemas.jobs import JobStatus
from storage.extractor_models import Extractor, ExtractorVersion
from storage.jobs import Finished
from storage.ledger import CallResult, CallRow
from storage.models import Job
from storage.scans import OcrText, ScanClaim


@dataclass(frozen=True)
class Terminal:
    """A terminal write: the status and whatever goes with it."""

    status: JobStatus
    result: dict[str, Any] | None = None
    model: str | None = None
    chunks: int | None = None
    cache_hit: bool = False
    error_type: str | None = None
    error_message: str | None = None
    trust: TrustRecord | None = None


@dataclass(frozen=True)
class TrustRecord:
    """What the trust step (tasks/worker/judge.py) found: stored beside the result."""

    evidence: list[dict[str, Any]]
    confidence: float | None
    review_state: str | None
    document_fit: dict[str, Any] | None
    warnings: list[str] = field(default_factory=list)
    ocr_pages: list[int] | None = None


class JobStore(Protocol):
    """The job rows and the ledger, seen from one worker process."""

    def claim(self, *, job_id: uuid.UUID, worker: str, lease_s: float) -> tuple[Job, str] | None:
        """Claim a queued (or abandoned) job; return it with its document text, or None."""
        ...

    def renew_lease(self, *, job_id: uuid.UUID, attempt: int, lease_s: float) -> bool:
        """Extend the attempt's lease; False once a newer attempt owns the job."""
        ...

    def release(self, *, job_id: uuid.UUID, attempt: int) -> bool:
        """Hand the attempt back to the queue (fenced)."""
        ...

    def finish(self, *, job_id: uuid.UUID, attempt: int, outcome: Terminal) -> Finished | None:
        """Write the attempt's terminal state (fenced): the row as written, None if fenced."""
        ...

    def load_extractor(self, version_id: uuid.UUID) -> tuple[Extractor, ExtractorVersion] | None:
        """An extractor version and its extractor by the version's id."""
        ...

    def find_reusable(self, *, job: Job, model: str) -> Job | None:
        """An earlier identical extraction (document, schema, prompt, model) of the tenant."""
        ...

    def record_call(self, *, row: CallRow) -> None:
        """Append one billed provider call to the ledger."""
        ...

    def open_call(self, *, row: CallRow) -> int:
        """Write a call's in-flight row before it is sent; its id."""
        ...

    def close_call(self, *, call_id: int, result: CallResult) -> bool:
        """Complete an opened call; False if the reconciler had closed it as unknown."""
        ...

    def judge_call(self, *, call_id: int, outcome: str) -> None:
        """Record a replayed batch answer's verdict on the row billed when it arrived."""
        ...

    def ocr_text(self, *, sha256: str) -> OcrText | None:
        """A scan's stored OCR text and words, None until one worker has read it."""
        ...

    def claim_scan(self, *, sha256: str, stale_s: float) -> ScanClaim:
        """Take a scan's OCR (its bytes), or learn it is done, failed or being read."""
        ...

    def fail_scan(self, *, sha256: str, message: str) -> None:
        """Record that a scan cannot be read, for every job on it."""
        ...

    def save_ocr(self, *, sha256: str, read: OcrText) -> OcrText:
        """Store a scan's OCR once; what is stored comes back (ours or an earlier one)."""
        ...

    def on_finished(self, *, finished: Finished) -> None:
        """After a terminal write committed: count, log, owe and send webhooks. Never raises."""
        ...
