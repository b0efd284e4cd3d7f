"""Image uploads are sniffed as the kind "image" by their bytes, whatever their name."""

from __future__ import annotations

import pytest

from tasks.documents.errors import DocumentInvalid
from tasks.documents.images import ImageFormat, image_format
from tasks.documents.sniff import detect_kind
from tests.support.scans import scanned_image, scanned_png


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "TIFF"])
def test_a_real_scan_is_recognised_by_its_magic_bytes(fmt: ImageFormat) -> None:
    content = scanned_image(["x"], fmt, dpi=72)
    assert image_format(content) == fmt
    assert detect_kind(content, None) == "image"


@pytest.mark.parametrize(
    ("head", "fmt"),
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "PNG"),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF", "JPEG"),
        (b"II*\x00\x08\x00\x00\x00", "TIFF"),
        (b"MM\x00*\x00\x00\x00\x08", "TIFF"),
        (b"GIF89a\x01\x00", None),
        (b"%PDF-1.7", None),
    ],
)
def test_image_format_reads_only_the_first_bytes(head: bytes, fmt: str | None) -> None:
    assert image_format(head) == fmt


def test_the_bytes_win_over_a_misleading_name() -> None:
    assert detect_kind(scanned_png("x", dpi=72), "notes.txt") == "image"


@pytest.mark.parametrize("name", ["scan.png", "photo.JPG", "fax.tiff", "page.tif", "x.jpeg"])
def test_an_image_name_on_non_image_binary_is_unsupported(name: str) -> None:
    with pytest.raises(DocumentInvalid) as info:
        detect_kind(b"GIF89a\x01\x00\x01\x00\x00\x00\x00" * 10, name)
    assert info.value.reason == "unsupported_type"
    assert "not a PNG, JPEG or TIFF image" in str(info.value)


def test_an_image_name_on_plain_text_is_read_as_text() -> None:
    assert detect_kind(b"just some text, misnamed", "scan.png") == "text"
