"""Uploads for the parser tests: real PDFs and DOCX files, hand-built hostile ones, zips."""

from __future__ import annotations

import io
import zipfile
from typing import Any

import docx
import pytest
from pypdf import PdfWriter
from reportlab.lib.pdfencrypt import StandardEncryption
from reportlab.pdfgen import canvas

from tasks.documents.errors import DocumentInvalid
from tasks.documents.parse import extract_text
from tests.support.hostile_files import pdf_from_objects

BIG = 10_000_000
OWNER = "owner-secret"  # the owner password of the encrypted test PDFs


def make_pdf(pages: list[str], encrypt: StandardEncryption | None = None) -> bytes:
    """A real PDF with one line of text per page."""
    buf = io.BytesIO()
    pdf = canvas.Canvas(buf, encrypt=encrypt)
    for text in pages:
        if text:
            pdf.drawString(72, 720, text)
        else:
            pdf.rect(72, 72, 100, 100)  # a page with graphics but no text
        pdf.showPage()
    pdf.save()
    return buf.getvalue()


def pypdf_encrypted(user_password: str) -> bytes:
    """A PDF encrypted by pypdf (RC4: AES would need the `cryptography` package)."""
    writer = PdfWriter(clone_from=io.BytesIO(make_pdf(["secret page"])))
    writer.encrypt(user_password=user_password, owner_password=OWNER, algorithm="RC4-128")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def raw_pdf(objects: list[bytes]) -> bytes:
    """A hand-built PDF (object 1 is the catalog) with a correct xref table."""
    return pdf_from_objects(dict(enumerate(objects, start=1)))


PAGE_WITH_FORM = (
    b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
    b"/Resources << /Font << /F1 5 0 R >> /XObject << /X1 6 0 R >> >> >>"
)


def make_docx(paragraphs: list[str], table: list[list[str]] | None = None) -> bytes:
    """A real DOCX written by python-docx."""
    document = docx.Document()
    for text in paragraphs:
        document.add_paragraph(text)
    if table:
        grid = document.add_table(rows=len(table), cols=len(table[0]))
        for r, row in enumerate(table):
            for c, value in enumerate(row):
                grid.cell(r, c).text = value
        document.add_paragraph("after the table")
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def zip_with_member(name: str, megabytes: int) -> bytes:
    """A zip whose member inflates to `megabytes` of zeros, streamed so memory stays small."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        zf.writestr("[Content_Types].xml", "<Types/>")
        with zf.open(name, "w", force_zip64=True) as member:
            block = b"\0" * (1 << 20)
            for _ in range(megabytes):
                member.write(block)
    return buf.getvalue()


def reason_of(content: bytes, filename: str | None, max_chars: int = BIG, **kw: Any) -> str:
    """Run extract_text expecting DocumentInvalid; return its reason."""
    with pytest.raises(DocumentInvalid) as info:
        extract_text(content=content, filename=filename, max_chars=max_chars, **kw)
    assert str(info.value)  # always a human-readable message
    return info.value.reason
