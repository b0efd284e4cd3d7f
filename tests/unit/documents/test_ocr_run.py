"""The OCR runner: a child process per document, capped in memory, killed past its clock."""

from __future__ import annotations

import io
import os
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from reportlab.pdfgen import canvas

from schemas.trust.config import OcrConfig
from tasks.documents.errors import DocumentInvalid
from tasks.documents.ocr import OcrUnavailable
from tasks.documents.ocr_run import run_ocr
from tests.support.hostile_files import billion_laughs_pdf
from tests.support.scans import scanned_pdf, scanned_png

MIB = 1024 * 1024
SLACK_S = 2.0  # the kill and the reap, on a loaded 2-core machine


def _ocr_children() -> list[int]:
    """Processes of this test process still running the OCR runner."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[-1].split()
            cmdline = (stat.parent / "cmdline").read_bytes()
        except OSError:
            continue  # it ended while we looked
        if int(fields[1]) == os.getpid() and b"tasks.documents.ocr_run" in cmdline:
            found.append(int(stat.parent.name))
    return found


def _scratch_dirs() -> set[str]:
    return {p.name for p in Path(tempfile.gettempdir()).glob("docqueue-ocr-*")}


def test_a_scan_is_read_in_the_child_and_its_result_travels_back_whole() -> None:
    pdf = scanned_pdf(["Delivery note 881", "Signed on receipt by J. Smith"], dpi=150)
    result = run_ocr(content=pdf, kind="pdf", pages=None, config=OcrConfig(dpi=150))
    assert result.texts == {1: "Delivery note 881", 2: "Signed on receipt by J. Smith"}
    assert (result.pages, result.page_count) == ((1, 2), 2)
    page_two = [result.texts[2][w.start : w.end] for w in result.words if w.page == 2]
    assert page_two == ["Signed", "on", "receipt", "by", "J.", "Smith"]


def test_limit_warnings_come_back_from_the_child() -> None:
    pdf = scanned_pdf(["one", "two", "three"], dpi=72)
    result = run_ocr(content=pdf, kind="pdf", pages=None, config=OcrConfig(max_pages=1, dpi=72))
    assert result.warnings == ("OCR stopped at the page limit: 1 of 3 pages read",)


@pytest.mark.timeout(30)
def test_a_hostile_pdf_stuck_in_pdfium_is_killed_and_the_calling_thread_gets_document_invalid() -> (
    None
):
    before = _scratch_dirs()
    config = OcrConfig(time_limit_s=1.0)
    started = time.monotonic()
    # Rendering its one page would hold pdfium for hours; the caller is a pool thread.
    with ThreadPoolExecutor(1) as pool:
        future = pool.submit(
            run_ocr, content=billion_laughs_pdf(), kind="pdf", pages=[1], config=config, grace_s=1.0
        )
        with pytest.raises(DocumentInvalid) as info:
            future.result(timeout=10)
    elapsed = time.monotonic() - started
    assert info.value.reason == "ocr_timeout"
    assert "time limit (1 s)" in str(info.value)
    assert 2.0 <= elapsed < 2.0 + SLACK_S
    assert _ocr_children() == []
    assert _scratch_dirs() <= before  # Tesseract's scratch directory went with it


def test_a_page_too_big_for_the_memory_limit_is_ocr_memory_not_a_dead_worker() -> None:
    buf = io.BytesIO()
    poster = canvas.Canvas(buf, pagesize=(792, 792))  # 11 x 11 in: 44 Mpx at 600 dpi
    poster.showPage()
    poster.save()
    config = OcrConfig(memory_bytes=128 * MIB, dpi=600)  # the bitmap and its copy: 88 MiB
    with pytest.raises(DocumentInvalid) as info:
        run_ocr(content=buf.getvalue(), kind="pdf", pages=None, config=config)
    assert info.value.reason == "ocr_memory"
    assert "memory limit (128 MiB)" in str(info.value)


def test_an_unreadable_document_keeps_its_reason_across_the_process_boundary() -> None:
    with pytest.raises(DocumentInvalid) as info:
        run_ocr(content=b"%PDF-1.7\nbroken", kind="pdf", pages=None, config=OcrConfig())
    assert info.value.reason == "unreadable_pdf"


def test_a_language_tesseract_lacks_is_the_worker_s_fault_not_the_document_s() -> None:
    with pytest.raises(OcrUnavailable, match="klingon"):
        run_ocr(
            content=scanned_png("hello", dpi=72),
            kind="image",
            pages=None,
            config=OcrConfig(languages="eng+klingon"),
        )
