"""Turn an uploaded file (text, Markdown, PDF, HTML, DOCX) into plain text.

Uploads are untrusted: every parser failure, hostile structure or resource blow-up is
reported as `DocumentInvalid` with a short reason code, never as a crash.
"""

from __future__ import annotations

from dataclasses import dataclass

from tasks.documents.docx import docx_text
from tasks.documents.errors import DocumentInvalid
from tasks.documents.html import html_text
from tasks.documents.ocr import count_pages, pages_without_text
from tasks.documents.pdf import PDF_TIME_BUDGET_S, pdf_text
from tasks.documents.sniff import Kind, clean, decode, detect_kind, why

__all__ = ["DocumentInvalid", "Kind", "ParsedDocument", "extract_text"]


@dataclass(frozen=True, slots=True)
class ParsedDocument:
    """Text extracted from an upload; PDF pages are separated by form feeds.

    `ocr_pages` are the 1-based pages with no text layer (every page of an image): the
    worker OCRs them (tasks/documents/ocr.py); their slots in `text` are empty until then.
    """

    text: str
    kind: Kind
    pages: int | None
    ocr_pages: tuple[int, ...] = ()


def extract_text(
    *,
    content: bytes,
    filename: str | None,
    max_chars: int,
    pdf_time_budget_s: float = PDF_TIME_BUDGET_S,
) -> ParsedDocument:
    """Detect the upload's kind and extract its text, or raise DocumentInvalid."""
    kind = detect_kind(content, filename)
    pages: int | None = None
    try:
        if kind == "pdf":
            text, pages = pdf_text(content, max_chars, pdf_time_budget_s)
        elif kind == "docx":
            text = docx_text(content)
        elif kind == "html":
            text = html_text(decode(content))
        elif kind == "image":  # nothing to read before OCR: every frame is a page to OCR
            text, pages = "", count_pages(content, "image")
        else:
            text = clean(decode(content))
    except DocumentInvalid:
        raise
    except Exception as exc:  # hostile input must never crash a worker
        raise DocumentInvalid("unreadable", f"the {kind} file is unreadable: {why(exc)}") from exc
    ocr_pages: tuple[int, ...] = ()
    if kind == "pdf":  # pages without a text layer are scans: the worker OCRs them
        ocr_pages = tuple(pages_without_text(text))
    elif kind == "image":
        ocr_pages = tuple(range(1, (pages or 1) + 1))
        text = "\f" * (len(ocr_pages) - 1)  # an empty slot per page until the OCR fills it
    if not text.strip() and not ocr_pages:
        raise DocumentInvalid("empty", f"the {kind} document contains no text")
    if len(text) > max_chars:
        raise DocumentInvalid(
            "too_large", f"the document has {len(text):,} characters; the limit is {max_chars:,}"
        )
    return ParsedDocument(text=text, kind=kind, pages=pages, ocr_pages=ocr_pages)
