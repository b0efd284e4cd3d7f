"""Turn an uploaded file (text, Markdown, PDF, HTML, DOCX) into plain text.

Uploads are untrusted: every parser failure, hostile structure or resource blow-up is
reported as `DocumentInvalid` with a short reason code, never as a crash.
"""

from __future__ import annotations

from dataclasses import dataclass

from tasks.documents.docx import docx_text
from tasks.documents.errors import DocumentInvalid
from tasks.documents.html import html_text
from tasks.documents.pdf import PDF_TIME_BUDGET_S, pdf_text
from tasks.documents.sniff import Kind, clean, decode, detect_kind, why

__all__ = ["DocumentInvalid", "Kind", "ParsedDocument", "extract_text"]


@dataclass(frozen=True, slots=True)
class ParsedDocument:
    """Text extracted from an upload; PDF pages are separated by form feeds."""

    text: str
    kind: Kind
    pages: int | None


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
        else:
            text = clean(decode(content))
    except DocumentInvalid:
        raise
    except Exception as exc:  # hostile input must never crash a worker
        raise DocumentInvalid("unreadable", f"the {kind} file is unreadable: {why(exc)}") from exc
    if not text.strip():
        hint = " (a scanned PDF? OCR is not supported)" if kind == "pdf" else ""
        raise DocumentInvalid("empty", f"the {kind} document contains no text{hint}")
    if len(text) > max_chars:
        raise DocumentInvalid(
            "too_large", f"the document has {len(text):,} characters; the limit is {max_chars:,}"
        )
    return ParsedDocument(text=text, kind=kind, pages=pages)
