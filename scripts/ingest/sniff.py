"""What a file holds: its known extension, or else its first bytes; and why it is skipped.

The server reads text, Markdown, HTML, PDF, DOCX and PNG/JPEG/TIFF scans (OCR'd by the
worker), and tells them apart by content (`tasks/documents/sniff.py`), so a file without a
known extension is sent when its bytes are one of those, and skipped with a reason
otherwise (GIF included: the server reads no GIF).
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass
from typing import Literal

TEXT_SUFFIXES = frozenset({".txt", ".md", ".markdown", ".html", ".htm"})
BINARY_SUFFIXES = frozenset({".pdf", ".docx", ".png", ".jpg", ".jpeg", ".tif", ".tiff"})
HEAD_BYTES = 8192  # what the text test looks at, like `file(1)`
IMAGE_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"\xff\xd8\xff", "JPEG"),
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
    (b"GIF87a", "GIF"),
    (b"GIF89a", "GIF"),
)
EMPTY = "empty file"
GIF = "image: GIF is not read (send PNG, JPEG or TIFF scans)"
SCANS = frozenset({"PNG", "JPEG", "TIFF"})

Send = Literal["text", "base64"]


@dataclass(frozen=True)
class Sniffed:
    """How to send a file (`send`), or why not (`reason`); `kind` names what was found."""

    kind: str
    send: Send | None = None
    reason: str | None = None


def sniff(content: bytes, suffix: str) -> Sniffed:
    """Classify a file's bytes; `suffix` is its lower-case extension ("" for none)."""
    if not content:
        return Sniffed("empty", reason=EMPTY)
    if suffix in TEXT_SUFFIXES:
        # Not UTF-8: base64, and the server detects the legacy encoding (as it always did).
        return Sniffed("text", send="text" if _utf8(content) else "base64")
    if suffix in BINARY_SUFFIXES:
        return Sniffed(suffix.lstrip("."), send="base64")
    return _by_content(content, suffix)


def _by_content(content: bytes, suffix: str) -> Sniffed:
    if content.startswith(b"%PDF-"):
        return Sniffed("pdf", send="base64")
    if content.startswith(b"PK\x03\x04"):  # a zip is never text: a Word document or nothing
        return Sniffed("docx", send="base64") if _is_docx(content) else _unknown(suffix)
    for magic, name in IMAGE_MAGIC:
        if content.startswith(magic):
            if name in SCANS:
                return Sniffed(f"image/{name}", send="base64")
            return Sniffed(f"image/{name}", reason=GIF)
    if content.startswith((b"\xff\xfe", b"\xfe\xff")):
        return Sniffed("text", send="base64")  # UTF-16 with a BOM: the server decodes it
    head = content[:HEAD_BYTES]
    if b"\x00" not in head:
        if _utf8(content):
            return Sniffed("text", send="text")
        if _mostly_printable(head):
            return Sniffed("text", send="base64")
    return _unknown(suffix)


def _unknown(suffix: str) -> Sniffed:
    what = suffix or "no extension"
    return Sniffed("unknown", reason=f"unknown type ({what}): not text, PDF or DOCX")


def _utf8(content: bytes) -> bool:
    try:
        content.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _mostly_printable(head: bytes) -> bool:
    """An 8-bit legacy text (cp1252, Latin-1): at most 1% control bytes, as the server asks."""
    controls = sum(1 for b in head if b < 0x20 and b not in b"\t\n\r\f")
    return controls <= len(head) // 100


def _is_docx(content: bytes) -> bool:
    """A zip holding `word/document.xml` (xlsx, odt and plain zips are not documents here)."""
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            return "word/document.xml" in archive.namelist()
    except (zipfile.BadZipFile, ValueError, OSError):
        return False
