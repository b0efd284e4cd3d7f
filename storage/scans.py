"""Scan verbs: a document that needs OCR is stored with its bytes; the worker's OCR fills it.

Such a document is addressed by the sha256 of its bytes (its text is not known yet) and
starts with empty text and `ocr_state = 'pending'`. One worker claims it ('running'),
OCRs it, writes the text and the words' confidences ('done') and drops the bytes, or
records why it cannot be read ('failed'); other jobs on the same bytes wait for that.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import timedelta
from typing import Literal

from sqlalchemy import and_, delete, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from storage.models import Document
from storage.trust_models import DocumentSource

__all__ = [
    "OcrText",
    "Scan",
    "ScanClaim",
    "claim_scan",
    "fail_scan",
    "load_scan",
    "ocr_text",
    "put_scan",
    "save_ocr",
]


@dataclass(frozen=True, slots=True)
class Scan:
    """What the worker's OCR needs: the bytes, their kind, the pages to read."""

    content: bytes
    kind: str
    pages: list[int]
    total_pages: int
    page_texts: dict[int, str]


@dataclass(frozen=True, slots=True)
class OcrText:
    """A document's OCR'd text with its words' confidences ([start, end, conf] in `text`)."""

    text: str
    words: list[list[float]]
    pages: list[int]
    warnings: list[str]


def put_scan(
    *,
    session: Session,
    content: bytes,
    kind: str,
    pages: list[int],
    total_pages: int,
    page_texts: dict[int, str],
    tokens: int,
) -> str:
    """Store a scan once under the sha256 of its bytes (no-op if present); its key."""
    digest = hashlib.sha256(content).hexdigest()
    created = session.execute(
        insert(Document)
        .values(sha256=digest, text="", chars=0, tokens=tokens, kind=kind, ocr_state="pending")
        .on_conflict_do_nothing(index_elements=["sha256"])
        .returning(Document.sha256)
    ).first()
    if created is None:  # seen before: pending with its bytes, or OCR'd already
        return digest
    session.execute(
        insert(DocumentSource)
        .values(
            sha256=digest,
            content=content,
            kind=kind,
            pages=pages,
            total_pages=total_pages,
            page_texts={str(k): v for k, v in page_texts.items()},
        )
        .on_conflict_do_nothing(index_elements=["sha256"])
    )
    return digest


@dataclass(frozen=True, slots=True)
class ScanClaim:
    """What a worker found when it went to OCR a scan: its turn, or someone else's result."""

    state: Literal["claimed", "done", "failed", "busy", "text"]  # text: not a scan at all
    scan: Scan | None = None  # claimed: the bytes to read
    read: OcrText | None = None  # done: the stored text and words
    message: str | None = None  # failed: why the OCR could not read it


def claim_scan(*, session: Session, sha256: str, stale_s: float) -> ScanClaim:
    """Take the scan's OCR, unless another worker holds a fresh claim or it is finished.

    One worker reads a scan at a time: the rest of a batch's jobs on the same bytes wait
    for its text instead of running Tesseract again. A claim older than `stale_s` belongs
    to a worker that died mid-OCR, and is taken over.
    """
    claimed = session.execute(
        update(Document)
        .where(
            Document.sha256 == sha256,
            or_(
                Document.ocr_state == "pending",
                and_(
                    Document.ocr_state == "running",
                    Document.ocr_claimed_at < func.now() - timedelta(seconds=stale_s),
                ),
            ),
        )
        .values(ocr_state="running", ocr_claimed_at=func.now())
        .returning(Document.sha256)
    ).first()
    if claimed is not None:
        scan = load_scan(session=session, sha256=sha256)
        if scan is not None:
            return ScanClaim("claimed", scan=scan)
        return ScanClaim("failed", message="the scan's stored bytes are missing")
    row = session.execute(
        select(Document.ocr_state, Document.ocr_warnings).where(Document.sha256 == sha256)
    ).first()
    if row is None:
        return ScanClaim("failed", message="the scan is not stored")
    if row.ocr_state == "done":
        return ScanClaim("done", read=ocr_text(session=session, sha256=sha256))
    if row.ocr_state == "failed":
        return ScanClaim("failed", message=(row.ocr_warnings or ["OCR failed"])[0])
    if row.ocr_state == "running":
        return ScanClaim("busy")
    return ScanClaim("text")


def fail_scan(*, session: Session, sha256: str, message: str) -> None:
    """Record that the scan cannot be read (every job on it fails with `message`)."""
    session.execute(
        update(Document)
        .where(Document.sha256 == sha256, Document.ocr_state.in_(("pending", "running")))
        .values(ocr_state="failed", ocr_warnings=[message])
    )
    session.execute(delete(DocumentSource).where(DocumentSource.sha256 == sha256))


def load_scan(*, session: Session, sha256: str) -> Scan | None:
    """The bytes to OCR, or None once another worker finished (the text is stored then)."""
    row = session.scalar(select(DocumentSource).where(DocumentSource.sha256 == sha256))
    if row is None:
        return None
    texts = {int(k): v for k, v in (row.page_texts or {}).items()}
    return Scan(bytes(row.content), row.kind, list(row.pages), row.total_pages, texts)


def save_ocr(*, session: Session, sha256: str, read: OcrText) -> OcrText:
    """Store the OCR'd text once; what is stored (ours, or an earlier worker's) comes back."""
    updated = session.execute(
        update(Document)
        .where(Document.sha256 == sha256, Document.ocr_state.in_(("pending", "running")))
        .values(
            text=read.text,
            chars=len(read.text),
            ocr_state="done",
            ocr_words=read.words,
            ocr_pages=read.pages,
            ocr_warnings=read.warnings,
        )
        .returning(Document.sha256)
    ).first()
    if updated is not None:
        session.execute(delete(DocumentSource).where(DocumentSource.sha256 == sha256))
        return read
    stored = ocr_text(session=session, sha256=sha256)
    return stored if stored is not None else read


def ocr_text(*, session: Session, sha256: str) -> OcrText | None:
    """A document's OCR'd text and words, None if it was not OCR'd (or not yet)."""
    row = session.execute(
        select(Document.text, Document.ocr_words, Document.ocr_pages, Document.ocr_warnings).where(
            Document.sha256 == sha256, Document.ocr_state == "done"
        )
    ).first()
    if row is None:
        return None
    words, pages = list(row.ocr_words or []), list(row.ocr_pages or [])
    return OcrText(row.text, words, pages, list(row.ocr_warnings or []))
