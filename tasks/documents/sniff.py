"""Sniff an upload's kind and decode text bytes into clean, storable text."""

from __future__ import annotations

import re
from typing import Literal

from tasks.documents.errors import DocumentInvalid
from tasks.documents.images import IMAGE_EXTENSIONS, image_format

__all__ = ["Kind", "clean", "decode", "detect_kind", "looks_like_text", "why"]

Kind = Literal["text", "markdown", "pdf", "html", "docx", "image"]  # image: PNG/JPEG/TIFF

_EXTENSIONS: dict[str, Kind] = {
    "txt": "text",
    "text": "text",
    "csv": "text",
    "tsv": "text",
    "log": "text",
    "json": "text",
    "xml": "text",
    "md": "markdown",
    "markdown": "markdown",
    "pdf": "pdf",
    "html": "html",
    "htm": "html",
    "xhtml": "html",
    "docx": "docx",
    **dict.fromkeys(IMAGE_EXTENSIONS, "image"),
}
# C0/C1 controls except \t \n \f, plus lone surrogates: Postgres text rejects NUL and
# JSON encoders reject surrogates, and none of them carry meaning for an LLM.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
_HTML_SNIFF = re.compile(
    rb"^(?:\xef\xbb\xbf)?\s*(?:<!--.*?-->\s*)*<(?:!doctype\s+html|html)[\s>]", re.I | re.S
)


def detect_kind(content: bytes, filename: str | None) -> Kind:
    """Choose the parser: content magic wins, then the extension, then sniffing."""
    if content.startswith(b"%PDF-"):
        return "pdf"
    if content.startswith(b"PK\x03\x04"):
        return "docx"  # docx_text rejects zips that are not Word documents
    if image_format(content):
        return "image"  # a scan for OCR, whatever its name
    ext = filename.rsplit(".", 1)[-1].lower() if filename and "." in filename else ""
    claimed = _EXTENSIONS.get(ext)
    # A declared .txt/.md is trusted even if it holds markup (Markdown may embed HTML);
    # sniffing only repairs a missing, unknown or binary-format extension.
    if claimed not in ("text", "markdown", "html") and _HTML_SNIFF.match(content[:4096]):
        return "html"
    if claimed == "pdf" and not looks_like_text(content):
        raise DocumentInvalid("unreadable_pdf", "the file is named .pdf but is not a PDF")
    if claimed == "image" and not looks_like_text(content):
        raise DocumentInvalid(
            "unsupported_type", f"the file is named .{ext} but is not a PNG, JPEG or TIFF image"
        )
    if claimed in ("pdf", "docx", "image"):
        # Named like a binary format but is plain text: read it as text rather than fail.
        return "text"
    return claimed or "text"


def looks_like_text(content: bytes) -> bool:
    """Guess whether undecodable bytes are a legacy 8-bit text encoding, not binary."""
    sample = content[:65536]
    if b"\x00" in sample:
        return False
    controls = sum(1 for b in sample if b < 0x20 and b not in b"\t\n\r\f")
    return controls <= len(sample) // 100


def decode(content: bytes) -> str:
    """Decode text: BOMs, then UTF-8, then cp1252/Latin-1 only if it looks like text."""
    if content.startswith((b"\xff\xfe", b"\xfe\xff")):
        return content.decode("utf-16", errors="replace")  # Windows "Unicode" exports
    try:
        return content.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    if looks_like_text(content):
        # "Latin-1" files are almost always Windows-1252, which maps 0x80-0x9F to
        # printable characters (the euro sign...); its 5 undefined bytes are Latin-1 C1
        # controls, which clean drops anyway.
        return content.decode("cp1252", errors="ignore")
    raise DocumentInvalid(
        "unsupported_type",
        "the file is not a supported document (text, Markdown, PDF, HTML, DOCX); "
        "images and legacy .doc files are not supported",
    )


def why(exc: Exception) -> str:
    """A short human-readable cause for a parser exception."""
    if isinstance(exc, RecursionError):
        return "its object structure is nested too deeply (possibly hostile)"
    return f"{type(exc).__name__}: {exc}"[:200]


def clean(text: str) -> str:
    """Normalise line endings and drop control characters other than \\n \\t \\f."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return _CONTROL.sub("", text)
