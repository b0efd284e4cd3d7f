"""Read a scanned document before its extraction: OCR once, then every job reuses the text.

A document whose pages had no text layer (or an image) arrives with its bytes kept
(storage/scans.py). The first job to need it runs Tesseract in a child process under the
`[ocr]` limits (tasks/documents/ocr_run.py), so a huge or hostile scan costs at most the
time limit and never hangs the worker's thread; the text and each word's confidence are
stored for every later job on the same bytes and for the evidence step.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from schemas.trust.config import OcrConfig
from storage.models import Job
from storage.scans import OcrText, Scan
from tasks.documents.errors import DocumentInvalid
from tasks.documents.ocr import OcrKind, OcrResult
from tasks.documents.ocr_run import run_ocr
from tasks.errors import Deferred
from tasks.worker.ports import JobStore

__all__ = ["ReadDocument", "assemble", "read_document"]

WAIT_S = 1.0  # how often a job waiting for another worker's OCR looks again
STALE_GRACE_S = 60.0  # a claim this long past the OCR time limit: its worker died


@dataclass(frozen=True)
class ReadDocument:
    """A job's document text, with its OCR'd words ([start, end, conf 0-100]) if it had any."""

    text: str
    words: list[list[float]] = field(default_factory=list)
    ocr_pages: list[int] | None = None
    warnings: list[str] = field(default_factory=list)


def read_document(
    *,
    store: JobStore,
    job: Job,
    text: str,
    config: OcrConfig,
    sleep: Callable[[float], None] = time.sleep,
) -> ReadDocument:
    """The text to extract: as claimed, or OCR'd now (or by another job) for a scan.

    One worker OCRs a scan at a time; a job on the same bytes waits for its text (its lease
    is kept by the caller's heartbeat), and takes the claim over if that worker died.
    """
    if job.ocr_pages is None or not job.document_sha256:
        return ReadDocument(text)  # a document with a text layer: nothing to read
    sha256 = job.document_sha256
    stored = store.ocr_text(sha256=sha256) if text else None
    stale_s = config.time_limit_s + STALE_GRACE_S
    waited = 0.0
    while stored is None:
        claim = store.claim_scan(sha256=sha256, stale_s=stale_s)
        if claim.state == "claimed" and claim.scan is not None:
            stored = store.save_ocr(sha256=sha256, read=_ocr(store, sha256, claim.scan, config))
        elif claim.state == "done" and claim.read is not None:
            stored = claim.read
        elif claim.state == "failed":
            raise DocumentInvalid("unreadable", claim.message or "the scan could not be read")
        elif claim.state == "text":
            return ReadDocument(text)  # a document with a text layer after all
        elif waited > stale_s + STALE_GRACE_S:
            # Past a stale claim's takeover: hand the job back rather than hold a thread.
            raise Deferred("another worker is still reading this scan")
        else:
            sleep(WAIT_S)  # another worker is reading it
            waited += WAIT_S
    return ReadDocument(stored.text, stored.words, stored.pages, stored.warnings)


def _ocr(store: JobStore, sha256: str, scan: Scan, config: OcrConfig) -> OcrText:
    """Read the claimed scan; a scan that cannot be read is recorded so for every job."""
    try:
        result = run_ocr(content=scan.content, kind=_kind(scan), pages=scan.pages, config=config)
    except DocumentInvalid as exc:
        store.fail_scan(sha256=sha256, message=exc.message)
        raise
    return assemble(scan, result)


def _kind(scan: Scan) -> OcrKind:
    return "image" if scan.kind == "image" else "pdf"


def assemble(scan: Scan, result: OcrResult) -> OcrText:
    """The whole document: text-layer pages and OCR'd pages in order, split by form feeds.

    Each OCR'd word's offsets move from its page's text into the document's, and Tesseract's
    0-1 confidence becomes 0-100, as the evidence step reads it.
    """
    total = max(scan.total_pages, result.page_count, max(result.pages, default=0))
    by_page: dict[int, list[list[float]]] = {}
    for word in result.words:
        by_page.setdefault(word.page, []).append([word.start, word.end, word.conf])
    parts: list[str] = []
    words: list[list[float]] = []
    offset = 0
    for number in range(1, total + 1):
        page = result.texts.get(number, scan.page_texts.get(number, ""))
        for start, end, conf in by_page.get(number, []) if number in result.texts else []:
            words.append([offset + start, offset + end, round(conf * 100, 1)])
        parts.append(page)
        offset += len(page) + 1  # the form feed after it
    warnings = list(result.warnings)
    skipped = [n for n in scan.pages if n not in result.texts]
    if skipped and not warnings:
        warnings.append(f"{len(skipped):,} scanned pages were not read")
    return OcrText("\f".join(parts), words, list(result.pages), warnings)
