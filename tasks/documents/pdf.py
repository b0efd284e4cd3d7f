"""PDF text extraction over pypdf, bounded in pages, characters and time."""

from __future__ import annotations

import io
import time

from pypdf import PdfReader

from tasks.documents.errors import DocumentInvalid
from tasks.documents.sniff import clean, why

__all__ = ["MAX_PDF_PAGES", "PDF_TIME_BUDGET_S", "pdf_text"]

MAX_PDF_PAGES = 2000
PDF_TIME_BUDGET_S = 20.0  # legit PDFs take milliseconds a page; hostile ones stall
_ENCRYPTED_MSG = "the PDF is encrypted or password-protected; upload an unprotected copy"


def pdf_text(content: bytes, max_chars: int, budget_s: float) -> tuple[str, int]:
    """Extract page texts joined by form feeds, bounded in pages, chars and time."""
    try:
        reader = PdfReader(io.BytesIO(content), strict=False)
        encrypted = reader.is_encrypted
    except Exception as exc:  # any parser failure means "unreadable"
        # Encryption pypdf cannot even open (AES without `cryptography`) fails here.
        if b"/Encrypt" in content[-65536:] or "ncrypt" in str(exc):
            raise DocumentInvalid("encrypted_pdf", _ENCRYPTED_MSG) from exc
        raise DocumentInvalid("unreadable_pdf", f"the PDF is corrupt: {why(exc)}") from exc
    if encrypted:
        # pypdf silently opens PDFs with an empty user password; refuse those too,
        # because the owner restricted them and the text may be garbled anyway.
        raise DocumentInvalid("encrypted_pdf", _ENCRYPTED_MSG)
    try:
        return _pdf_pages(reader, max_chars, budget_s)
    except DocumentInvalid:
        raise
    except Exception as exc:  # pypdf raises many types on bad input, RecursionError too
        raise DocumentInvalid("unreadable_pdf", f"the PDF is corrupt: {why(exc)}") from exc


def _pdf_pages(reader: PdfReader, max_chars: int, budget_s: float) -> tuple[str, int]:
    """Read each page's text, stopping at the page, character and time limits."""
    started = time.monotonic()
    count = len(reader.pages)
    if count > MAX_PDF_PAGES:
        raise DocumentInvalid(
            "too_large", f"the PDF has {count:,} pages; the limit is {MAX_PDF_PAGES:,}"
        )
    texts: list[str] = []
    total = 0
    for number, page in enumerate(reader.pages, start=1):
        # Checked between pages: a hostile object graph slows every page down.
        if time.monotonic() - started > budget_s:
            raise DocumentInvalid(
                "unreadable_pdf",
                f"reading the PDF took over {budget_s:g} s (stopped at page {number} "
                f"of {count}); it may be malformed",
            )
        # Form feeds inside a page would fake page boundaries for the chunker.
        page_text = clean(page.extract_text() or "").replace("\f", "\n")
        texts.append(page_text)
        total += len(page_text) + 1
        # Stop early: a huge PDF should not be read to the end only to be refused.
        if total > max_chars + 1:
            raise DocumentInvalid(
                "too_large",
                f"the PDF has over {max_chars:,} characters of text (reached by page "
                f"{number} of {count})",
            )
    return "\f".join(texts), count
