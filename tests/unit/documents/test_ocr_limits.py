"""OCR limits: pages counted without rendering, time checked between pages and inside them."""

from __future__ import annotations

import io
import time
from collections.abc import Callable, Iterator

import pytest
from PIL import Image

from schemas.trust.config import OcrConfig
from tasks.documents.errors import DocumentInvalid
from tasks.documents.ocr import count_pages, ocr_document
from tests.support.hostile_files import billion_laughs_pdf
from tests.support.scans import repeated_pdf, scanned_pdf, scanned_png

DENSE = (
    "Payment is due within thirty days of the invoice date. Late payments incur interest "
    "of two percent per month, charged from the first day after the due date. "
) * 12
QUICK_S = 1.0  # far less than rendering, let alone reading, a single page of a big PDF


@pytest.fixture(autouse=True)
def _one_omp_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OMP_THREAD_LIMIT", "1")


@pytest.fixture(scope="module")
def two_thousand_pages() -> bytes:
    """A 2,000-page image-only PDF (one tiny scan, shared by every page)."""
    return repeated_pdf(scanned_pdf(["tiny"], dpi=72), 2000)


@pytest.fixture(scope="module")
def hostile_pages() -> bytes:
    """2,000 pages that pdfium would take hours to render, even one of them."""
    return repeated_pdf(billion_laughs_pdf(), 2000)


def stepping_clock(*readings: float) -> Callable[[], float]:
    """A clock giving these readings in turn, then the last one forever."""
    values: Iterator[float] = iter(readings)
    last = [0.0]

    def clock() -> float:
        last[0] = next(values, last[0])
        return last[0]

    return clock


@pytest.mark.timeout(10)
def test_counting_the_pages_of_a_2000_page_pdf_renders_none(hostile_pages: bytes) -> None:
    started = time.monotonic()
    assert count_pages(hostile_pages, "pdf") == 2000
    assert time.monotonic() - started < QUICK_S


@pytest.mark.timeout(10)
def test_too_many_pages_fail_before_any_page_is_rendered(hostile_pages: bytes) -> None:
    config = OcrConfig(max_pages=50, on_limit="fail")
    started = time.monotonic()
    with pytest.raises(DocumentInvalid) as info:
        ocr_document(content=hostile_pages, kind="pdf", pages=None, config=config)
    assert time.monotonic() - started < QUICK_S
    assert info.value.reason == "too_large"
    assert str(info.value) == "the document has 2,000 pages to OCR; the limit is 50"


def test_too_many_pages_cut_keeps_the_first_pages_and_warns(two_thousand_pages: bytes) -> None:
    config = OcrConfig(max_pages=2, on_limit="cut", dpi=72)
    result = ocr_document(content=two_thousand_pages, kind="pdf", pages=None, config=config)
    assert (result.pages, result.page_count) == ((1, 2), 2000)
    assert result.texts == {1: "tiny", 2: "tiny"}
    assert result.warnings == ("OCR stopped at the page limit: 2 of 2,000 pages read",)


def test_the_page_limit_counts_the_pages_asked_for_not_the_whole_pdf(
    two_thousand_pages: bytes,
) -> None:
    config = OcrConfig(max_pages=2, on_limit="fail", dpi=72)
    result = ocr_document(content=two_thousand_pages, kind="pdf", pages=[7, 1999], config=config)
    assert (result.pages, result.warnings) == ((7, 1999), ())


def test_past_the_time_limit_cut_returns_the_pages_read_so_far_with_a_warning() -> None:
    pdf = scanned_pdf(["page one", "page two", "page three"], dpi=100)
    # read at the start, then before each page: the third page starts past the limit
    clock = stepping_clock(0.0, 1.0, 2.0, 61.0)
    config = OcrConfig(time_limit_s=60, on_limit="cut", dpi=100)
    result = ocr_document(content=pdf, kind="pdf", pages=None, config=config, clock=clock)
    assert result.texts == {1: "page one", 2: "page two"}
    assert result.warnings == ("OCR stopped at the time limit (60 s): 2 of 3 pages read",)


def test_past_the_time_limit_fail_is_an_ocr_timeout() -> None:
    pdf = scanned_pdf(["page one", "page two"], dpi=100)
    clock = stepping_clock(0.0, 1.0, 61.0)
    config = OcrConfig(time_limit_s=60, on_limit="fail", dpi=100)
    with pytest.raises(DocumentInvalid) as info:
        ocr_document(content=pdf, kind="pdf", pages=None, config=config, clock=clock)
    assert info.value.reason == "ocr_timeout"
    assert "time limit (60 s) after 1 of 2 pages" in str(info.value)


@pytest.mark.timeout(20)
def test_a_page_tesseract_is_still_reading_at_the_time_limit_is_stopped() -> None:
    # A dense page at 300 dpi takes Tesseract seconds; the limit is a fraction of that.
    pdf = scanned_pdf([DENSE])
    config = OcrConfig(time_limit_s=0.5, on_limit="cut", dpi=300)
    frozen = stepping_clock(0.0)  # the page starts with all 0.5 s left, however slow the setup
    started = time.monotonic()
    result = ocr_document(content=pdf, kind="pdf", pages=None, config=config, clock=frozen)
    elapsed = time.monotonic() - started
    assert (result.pages, result.texts) == ((), {})
    assert result.warnings == ("OCR stopped at the time limit (0.5 s): 0 of 1 pages read",)
    assert elapsed < 0.5 + 2.0  # pytesseract gives Tesseract 1 s to exit after SIGTERM


def test_an_image_with_too_many_pixels_is_too_large() -> None:
    buf = io.BytesIO()
    Image.new("1", (8000, 8000), 1).save(buf, "PNG")  # 64 Mpx, a few kB compressed
    with pytest.raises(DocumentInvalid) as info:
        ocr_document(content=buf.getvalue(), kind="image", pages=None, config=OcrConfig())
    assert info.value.reason == "too_large"
    assert "8,000 x 8,000 pixels" in str(info.value)


def test_a_scan_larger_than_max_source_bytes_is_refused_unread() -> None:
    png = scanned_png("too big", dpi=72)
    config = OcrConfig(max_source_bytes=len(png) - 1)
    with pytest.raises(DocumentInvalid) as info:
        ocr_document(content=png, kind="image", pages=None, config=config)
    assert info.value.reason == "too_large"
