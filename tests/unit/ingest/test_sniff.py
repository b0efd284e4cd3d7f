"""Sniffing what a file holds when its extension does not say."""

from __future__ import annotations

import io
import zipfile

import pytest

from scripts.ingest.sniff import GIF, sniff

NO_EXT = "unknown type (no extension): not text, PDF or DOCX"


def _zip(*names: str) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        for name in names:
            archive.writestr(name, "<x/>")
    return buf.getvalue()


@pytest.mark.parametrize(
    ("content", "kind", "send"),
    [
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3 binary", "pdf", "base64"),
        (_zip("[Content_Types].xml", "word/document.xml"), "docx", "base64"),
        ("Grüße: plain UTF-8 notes".encode(), "text", "text"),
        ("Caf\xe9 cr\xe8me, cp1252 text".encode("cp1252"), "text", "base64"),
        ("UTF-16 with a BOM".encode("utf-16"), "text", "base64"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "image/PNG", "base64"),  # scans: OCR'd
        (b"\xff\xd8\xff\xe0\x00\x10JFIF", "image/JPEG", "base64"),
        (b"II*\x00\x08\x00\x00\x00", "image/TIFF", "base64"),
    ],
)
def test_a_file_without_an_extension_is_sent_as_what_its_bytes_are(
    content: bytes, kind: str, send: str
) -> None:
    found = sniff(content, "")
    assert (found.kind, found.send, found.reason) == (kind, send, None)


@pytest.mark.parametrize(
    ("content", "suffix", "reason"),
    [
        (b"", "", "empty file"),
        (b"", ".txt", "empty file"),
        (b"GIF89a\x01\x00\x01\x00", "", GIF),
        (b"\x00\x01\x02 junk \xff\xfe\x00", "", NO_EXT),
        (b"Bud1\x00\x00\x10\x00\x00\x00\x08", "", NO_EXT),
        (_zip("xl/workbook.xml"), ".zip", "unknown type (.zip): not text, PDF or DOCX"),
        (b"PK\x03\x04 truncated zip", "", NO_EXT),
        (b"\x80" + bytes(range(1, 32)) * 10, ".bin", "unknown type (.bin): not text, PDF or DOCX"),
    ],
)
def test_a_file_that_is_not_a_document_is_skipped_with_its_reason(
    content: bytes, suffix: str, reason: str
) -> None:
    found = sniff(content, suffix)
    assert (found.send, found.reason) == (None, reason)


def test_known_extensions_are_trusted_as_before() -> None:
    assert sniff(b"plain", ".md").send == "text"
    assert sniff("caf\xe9".encode("latin-1"), ".txt").send == "base64"  # legacy encoding
    assert sniff(b"not really a pdf", ".pdf").send == "base64"  # the server decides
    assert sniff(b"x", ".docx").kind == "docx"


def test_a_nul_byte_in_the_first_8_kib_makes_valid_utf8_binary() -> None:
    assert sniff(b"text\x00more", "").reason is not None
    assert sniff(b"a" * 9000 + b"\x00", "").send == "text"  # past the sniffed head
