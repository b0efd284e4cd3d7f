"""OCR of scans made from known text: the words come back, and their offsets find them."""

from __future__ import annotations

import io
import re
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Literal

import pytest
from pypdf import PdfReader, PdfWriter

from schemas.trust.config import OcrConfig
from tasks.documents.errors import DocumentInvalid
from tasks.documents.ocr import (
    OcrResult,
    count_pages,
    needs_ocr_pages,
    ocr_document,
    pages_without_text,
)
from tasks.documents.pdf import pdf_text
from tests.support.scans import scanned_image, scanned_pdf, scanned_png, text_pdf

INVOICE = (
    "Invoice 4471 was issued on 12 March 2024 to Northwind Traders for the delivery of "
    "forty office chairs and twelve standing desks.\n"
    "Payment is due within thirty days of the invoice date. Late payments incur interest "
    "of two percent per month, charged from the first day after the due date."
)
LETTER = (
    "Dear Ms Alvarez, thank you for your order of 9 January. The shipment left our "
    "warehouse in Rotterdam on Monday and should reach your office by Friday morning.\n"
    "Kind regards, the customer service team"
)
FAST = OcrConfig(dpi=100)  # where accuracy is not the point


@pytest.fixture(autouse=True)
def _one_omp_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    # What run_ocr gives Tesseract in production: it is faster on a busy 2-core machine.
    monkeypatch.setenv("OMP_THREAD_LIMIT", "1")


def _words(text: str) -> Counter[str]:
    return Counter(re.findall(r"\w+", text.casefold()))


def recovered(expected: str, result: OcrResult) -> float:
    """The share of the expected words (a multiset, casefolded) that OCR read."""
    want, got = _words(expected), _words(" ".join(result.texts.values()))
    return sum((want & got).values()) / sum(want.values())


@pytest.fixture(scope="module")
def scan() -> Iterator[OcrResult]:
    """A two-page image-only PDF read at the default dpi."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("OMP_THREAD_LIMIT", "1")
        yield ocr_document(
            content=scanned_pdf([INVOICE, LETTER]), kind="pdf", pages=None, config=OcrConfig()
        )


def test_the_scanned_pdf_has_no_text_layer_for_ocr_to_replace() -> None:
    text, pages = pdf_text(scanned_pdf([INVOICE, LETTER], dpi=72), 10_000, 10.0)
    assert (text.strip(), pages) == ("", 2)


def test_ocr_recovers_at_least_95_percent_of_the_words_of_a_scanned_pdf(scan: OcrResult) -> None:
    assert scan.pages == (1, 2)
    assert recovered(INVOICE + " " + LETTER, scan) >= 0.95
    assert recovered(INVOICE, scan) > recovered(LETTER, scan) * 0.5  # both pages were read


def test_each_page_keeps_its_own_text(scan: OcrResult) -> None:
    assert "Northwind" in scan.texts[1]
    assert "Rotterdam" in scan.texts[2]
    assert "Rotterdam" not in scan.texts[1]


def test_lines_become_newlines_in_the_page_text(scan: OcrResult) -> None:
    assert scan.texts[2].endswith("\nKind regards, the customer service team")


def test_word_offsets_slice_each_page_text_to_exactly_its_words(scan: OcrResult) -> None:
    for page, text in scan.texts.items():
        words = [w for w in scan.words if w.page == page]
        assert [text[w.start : w.end] for w in words] == text.split()
        assert all(0 <= w.conf <= 1 for w in words)


def test_word_confidences_are_high_on_a_clean_scan(scan: OcrResult) -> None:
    confs = sorted(w.conf for w in scan.words)
    assert confs[len(confs) // 2] > 0.85
    assert scan.warnings == ()


def test_needs_ocr_pages_finds_exactly_the_image_pages_of_a_mixed_pdf() -> None:
    parts = [text_pdf(["A page with a text layer"]), scanned_pdf(["scanned"], dpi=72)]
    writer = PdfWriter()
    for source in (0, 1, 1, 0, 1):
        writer.add_page(PdfReader(io.BytesIO(parts[source])).pages[0])
    buf = io.BytesIO()
    writer.write(buf)
    assert needs_ocr_pages(buf.getvalue()) == [2, 3, 5]


def test_count_pages_counts_pdf_pages_and_tiff_frames_without_reading_them() -> None:
    assert count_pages(scanned_pdf(["a", "b", "c"], dpi=72), "pdf") == 3
    assert count_pages(scanned_image(["a", "b"], "TIFF", dpi=72), "image") == 2
    assert count_pages(scanned_png("a", dpi=72), "image") == 1


def test_pages_without_text_reads_the_form_feeds_of_parsed_pdf_text() -> None:
    assert pages_without_text("cover\f \n\fbody\f") == [2, 4]


def test_only_the_requested_pdf_pages_are_read_and_keyed_by_their_number() -> None:
    pdf = scanned_pdf(["first page", "second page here", "third page"], dpi=150)
    result = ocr_document(content=pdf, kind="pdf", pages=[3, 2], config=FAST)
    assert (result.pages, result.page_count) == ((2, 3), 3)
    assert (result.texts[2], result.texts[3]) == ("second page here", "third page")


def test_a_page_outside_the_document_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="1-1"):
        ocr_document(content=scanned_png("one"), kind="image", pages=[2], config=FAST)


@pytest.mark.parametrize("image_format", ["PNG", "JPEG"])
def test_a_single_image_upload_is_one_page(image_format: Literal["PNG", "JPEG"]) -> None:
    image = scanned_image(["Receipt total 18.40 EUR paid by card"], image_format, dpi=150)
    result = ocr_document(content=image, kind="image", pages=None, config=FAST)
    assert (result.pages, result.page_count) == ((1,), 1)
    assert result.texts[1] == "Receipt total 18.40 EUR paid by card"


def test_each_frame_of_a_multi_page_tiff_is_a_page() -> None:
    tiff = scanned_image(["Frame one of the fax", "Frame two of the fax"], "TIFF", dpi=150)
    result = ocr_document(content=tiff, kind="image", pages=None, config=FAST)
    assert result.texts == {1: "Frame one of the fax", 2: "Frame two of the fax"}
    assert {w.page for w in result.words} == {1, 2}


def test_a_corrupt_image_is_unreadable_not_a_crash() -> None:
    with pytest.raises(DocumentInvalid) as info:
        ocr_document(content=scanned_png("cut")[:200], kind="image", pages=None, config=FAST)
    assert info.value.reason == "unreadable"


def test_a_corrupt_pdf_is_unreadable_pdf() -> None:
    with pytest.raises(DocumentInvalid) as info:
        ocr_document(content=b"%PDF-1.7\nnot really", kind="pdf", pages=None, config=FAST)
    assert info.value.reason == "unreadable_pdf"


def test_threads_may_ocr_pdfs_at_once_because_pdfium_is_locked() -> None:
    pdfs = [scanned_pdf([f"Thread number {n} was here"], dpi=150) for n in range(3)]

    def read(pdf: bytes) -> dict[int, str]:
        return ocr_document(content=pdf, kind="pdf", pages=None, config=FAST).texts

    with ThreadPoolExecutor(3) as pool:
        texts = list(pool.map(read, pdfs))
    assert texts == [{1: f"Thread number {n} was here"} for n in range(3)]
