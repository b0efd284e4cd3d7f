"""DOCX text extraction over python-docx, after a zip-bomb check of the archive."""

from __future__ import annotations

import io
import zipfile

import docx
from docx.table import Table

from tasks.documents.errors import DocumentInvalid
from tasks.documents.sniff import clean, why

__all__ = ["ZIP_MAX_MEMBERS", "ZIP_MAX_RATIO", "ZIP_MAX_TOTAL_BYTES", "docx_text"]

ZIP_MAX_TOTAL_BYTES = 100 * 1024 * 1024
ZIP_MAX_RATIO = 100
ZIP_MAX_MEMBERS = 10_000
# Small members (styles, empty parts) legitimately compress far better than 100:1.
_ZIP_RATIO_MIN_BYTES = 1024 * 1024


def docx_text(content: bytes) -> str:
    """Extract paragraphs and table rows from a DOCX after checking for a zip bomb."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(content))
        infos = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError) as exc:
        raise DocumentInvalid("unreadable_docx", f"the DOCX is not a valid zip: {exc}") from exc
    _check_zip_bomb(infos)
    if "word/document.xml" not in archive.namelist():
        raise DocumentInvalid(
            "unsupported_type", "the zip archive is not a Word document (no word/document.xml)"
        )
    try:
        # python-docx parses with lxml resolve_entities=False: no entity expansion.
        document = docx.Document(io.BytesIO(content))
        lines: list[str] = []
        for block in document.iter_inner_content():
            if isinstance(block, Table):
                lines.extend("\t".join(cell.text for cell in row.cells) for row in block.rows)
            else:
                lines.append(block.text)
    except Exception as exc:  # python-docx/lxml raise many types, RecursionError too
        raise DocumentInvalid("unreadable_docx", f"the DOCX is corrupt: {why(exc)}") from exc
    return clean("\n".join(lines))


def _check_zip_bomb(infos: list[zipfile.ZipInfo]) -> None:
    """Reject archives whose declared sizes would inflate too far, before reading any."""
    # zipfile inflates deflate in bounded steps and never yields more than a member's
    # declared file_size (then checks the CRC), so the central directory's sizes bound
    # what parsing can inflate. bz2/lzma inflate unbounded per step, and Word never
    # writes them.
    if any(i.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED) for i in infos):
        raise DocumentInvalid("zip_bomb", "the archive uses a compression Word never writes")
    if len(infos) > ZIP_MAX_MEMBERS:
        raise DocumentInvalid("zip_bomb", f"the archive has {len(infos):,} members")
    total = sum(i.file_size for i in infos)
    packed = sum(i.compress_size for i in infos)
    if total > ZIP_MAX_TOTAL_BYTES:
        raise DocumentInvalid(
            "zip_bomb",
            f"the archive would inflate to {total / 2**20:,.0f} MiB; "
            f"the limit is {ZIP_MAX_TOTAL_BYTES // 2**20} MiB",
        )
    for name, size, csize in [("the archive", total, packed)] + [
        (repr(i.filename), i.file_size, i.compress_size) for i in infos
    ]:
        if size >= _ZIP_RATIO_MIN_BYTES and size > ZIP_MAX_RATIO * max(csize, 1):
            raise DocumentInvalid(
                "zip_bomb",
                f"{name} compresses {size // max(csize, 1):,}:1 (limit {ZIP_MAX_RATIO}:1)",
            )
