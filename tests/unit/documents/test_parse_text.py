"""tasks.documents.parse on plain text: decoding, cleaning, emptiness and the size limit."""

from __future__ import annotations

import random

from tasks.documents.parse import ParsedDocument, extract_text
from tests.support.scans import scanned_png
from tests.unit.documents.uploads import BIG, reason_of


def test_plain_text_is_returned_as_kind_text() -> None:
    parsed = extract_text(content=b"hello\nworld", filename="a.txt", max_chars=BIG)
    assert parsed == ParsedDocument(text="hello\nworld", kind="text", pages=None)


def test_markdown_extension_gives_markdown_kind() -> None:
    parsed = extract_text(content=b"# Title\n\nbody", filename="README.MD", max_chars=BIG)
    assert parsed.kind == "markdown"
    assert parsed.text == "# Title\n\nbody"


def test_control_characters_are_stripped() -> None:
    raw = "a\x00b\x07c\x1bd\x7fe\x85f\tg\nh\fi".encode()
    parsed = extract_text(content=raw, filename="x.txt", max_chars=BIG)
    assert parsed.text == "abcdef\tg\nh\fi"


def test_crlf_and_lone_cr_become_newlines() -> None:
    parsed = extract_text(content=b"one\r\ntwo\rthree", filename="x.txt", max_chars=BIG)
    assert parsed.text == "one\ntwo\nthree"


def test_utf8_bom_is_dropped() -> None:
    parsed = extract_text(content="\ufeffStraße".encode(), filename=None, max_chars=BIG)
    assert parsed.text == "Straße"


def test_utf16_text_with_bom_is_decoded() -> None:
    parsed = extract_text(content="Grüße\r\n".encode("utf-16"), filename="w.txt", max_chars=BIG)
    assert parsed.text == "Grüße\n"


def test_latin1_and_cp1252_text_is_decoded_when_not_utf8() -> None:
    latin1 = extract_text(content="Größe: 5 ½".encode("latin-1"), filename=None, max_chars=BIG)
    assert latin1.text == "Größe: 5 ½"
    cp1252 = extract_text(content="Preis: 5 €".encode("cp1252"), filename="p.txt", max_chars=BIG)
    assert cp1252.text == "Preis: 5 €"


def test_binary_garbage_is_unsupported_type_not_text() -> None:
    noise = random.Random(7).randbytes(4096)
    assert reason_of(noise, "data.bin") == "unsupported_type"


def test_a_png_upload_is_an_image_whose_one_page_the_worker_ocrs() -> None:
    parsed = extract_text(content=scanned_png("Total 12.50"), filename="scan.png", max_chars=99)
    assert (parsed.kind, parsed.pages, parsed.ocr_pages, parsed.text) == ("image", 1, (1,), "")


def test_whitespace_only_document_is_empty() -> None:
    assert reason_of(b" \n\t\n \x00 ", "x.txt") == "empty"


def test_text_longer_than_max_chars_is_too_large() -> None:
    assert reason_of(b"x" * 101, "x.txt", max_chars=100) == "too_large"
    assert extract_text(content=b"x" * 100, filename="x.txt", max_chars=100).text == "x" * 100
