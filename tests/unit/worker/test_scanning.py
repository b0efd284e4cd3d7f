"""Reading a scan before extraction: text-layer and OCR'd pages assembled in order, one OCR
per scan shared by every job on it, and an unreadable scan failing every job fast."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

import pytest

from schemas.trust.config import OcrConfig
from storage.models import Job
from storage.scans import OcrText, Scan
from tasks.documents.errors import DocumentInvalid
from tasks.documents.ocr import OcrResult, OcrWord
from tasks.worker import scanning
from tasks.worker.scanning import WAIT_S, assemble, read_document
from tests.support.fakes import MemoryJobStore

SHA = "ab" * 32
P1, P3 = "Page one has a text layer.", "Page three too."
P2, P4 = "Scanned invoice INV-7", "Total due 119.00 EUR"
SCAN = Scan(
    content=b"%PDF-1.7 four pages",
    kind="pdf",
    pages=[2, 4],
    total_pages=4,
    page_texts={1: P1, 3: P3},
)
WORDS = (
    OcrWord(page=2, start=0, end=7, conf=0.91),  # Scanned
    OcrWord(page=2, start=16, end=21, conf=0.5),  # INV-7
    OcrWord(page=4, start=10, end=16, conf=0.987),  # 119.00
)
OCR = OcrResult(texts={2: P2, 4: P4}, words=WORDS, pages=(2, 4), warnings=(), page_count=4)


def test_a_scan_is_its_pages_in_order_split_by_form_feeds() -> None:
    read = assemble(SCAN, OCR)
    assert read.text == "\f".join([P1, P2, P3, P4])
    assert read.pages == [2, 4]
    assert read.warnings == []


def test_each_ocr_word_slices_the_assembled_text_to_itself_with_a_0_to_100_confidence() -> None:
    read = assemble(SCAN, OCR)
    spans = [read.text[int(start) : int(end)] for start, end, _ in read.words]
    assert spans == ["Scanned", "INV-7", "119.00"]
    assert [conf for _, _, conf in read.words] == [91.0, 50.0, 98.7]


def test_scanned_pages_the_ocr_did_not_read_are_warned_about() -> None:
    cut = OcrResult(texts={2: P2}, words=WORDS[:2], pages=(2,), warnings=(), page_count=4)
    read = assemble(SCAN, cut)
    assert read.text == "\f".join([P1, P2, P3, ""])
    assert len(read.warnings) == 1
    assert "1 scanned pages were not read" in read.warnings[0]
    assert [read.text[int(s) : int(e)] for s, e, _ in read.words] == ["Scanned", "INV-7"]


def test_the_ocrs_own_warnings_are_kept() -> None:
    limit = "OCR stopped after 1 of 2 pages (max_pages)"
    cut = OcrResult(texts={2: P2}, words=(), pages=(2,), warnings=(limit,), page_count=4)
    assert assemble(SCAN, cut).warnings == [limit]


@dataclass
class FakeOcr:
    """run_ocr's stand-in: counts its calls, reads OCR or raises `error`."""

    error: DocumentInvalid | None = None
    calls: list[dict[str, Any]] = field(default_factory=list)

    def __call__(self, **kwargs: Any) -> OcrResult:
        """One OCR run."""
        self.calls.append(kwargs)
        if self.error is not None:
            raise self.error
        return OCR


@pytest.fixture
def ocr(monkeypatch: pytest.MonkeyPatch) -> FakeOcr:
    fake = FakeOcr()
    monkeypatch.setattr(scanning, "run_ocr", fake)
    return fake


def _scan_job() -> Job:
    return Job(id=uuid.uuid4(), document_sha256=SHA, ocr_pages=[2, 4])


def _store() -> MemoryJobStore:
    store = MemoryJobStore()
    store.scans[SHA] = SCAN
    return store


def _no_sleep(_: float) -> None:
    raise AssertionError("nothing to wait for")


def test_a_document_with_a_text_layer_is_read_as_claimed(ocr: FakeOcr) -> None:
    job = Job(id=uuid.uuid4(), document_sha256=SHA, ocr_pages=None)
    read = read_document(store=_store(), job=job, text="Typed text.", config=OcrConfig())
    assert (read.text, read.words, read.ocr_pages, read.warnings) == ("Typed text.", [], None, [])
    assert ocr.calls == []


def test_a_pending_scan_is_claimed_read_and_stored(ocr: FakeOcr) -> None:
    store, config = _store(), OcrConfig()
    read = read_document(store=store, job=_scan_job(), text="", config=config, sleep=_no_sleep)
    expected = assemble(SCAN, OCR)
    assert read.text == expected.text
    assert read.words == expected.words
    assert read.ocr_pages == [2, 4]
    assert store.ocr[SHA] == expected
    assert len(ocr.calls) == 1
    call = ocr.calls[0]
    assert (call["content"], call["kind"], call["pages"]) == (SCAN.content, "pdf", [2, 4])
    assert call["config"] is config


def test_a_second_job_on_a_scan_being_read_waits_and_reuses_its_text(ocr: FakeOcr) -> None:
    store = _store()
    store.claimed.add(SHA)  # another worker is reading it
    done = OcrText("\f".join([P1, P2, P3, P4]), [[27.0, 34.0, 91.0]], [2, 4], [])
    waits: list[float] = []

    def other_worker_finishes(seconds: float) -> None:
        waits.append(seconds)
        store.save_ocr(sha256=SHA, read=done)

    read = read_document(
        store=store, job=_scan_job(), text="", config=OcrConfig(), sleep=other_worker_finishes
    )
    assert waits == [WAIT_S]
    assert (read.text, read.words, read.ocr_pages) == (done.text, done.words, done.pages)
    assert ocr.calls == []


def test_a_job_on_a_scan_already_read_takes_the_stored_text(ocr: FakeOcr) -> None:
    store = _store()
    first = read_document(store=store, job=_scan_job(), text="", config=OcrConfig())
    again = read_document(
        store=store, job=_scan_job(), text="", config=OcrConfig(), sleep=_no_sleep
    )
    assert again == first
    assert len(ocr.calls) == 1


def test_an_unreadable_scan_is_recorded_and_later_jobs_fail_fast(ocr: FakeOcr) -> None:
    ocr.error = DocumentInvalid("unreadable", "page 2 is not an image")
    store = _store()
    with pytest.raises(DocumentInvalid, match="page 2 is not an image"):
        read_document(store=store, job=_scan_job(), text="", config=OcrConfig(), sleep=_no_sleep)
    assert store.scan_failures == {SHA: "page 2 is not an image"}
    assert SHA not in store.ocr
    with pytest.raises(DocumentInvalid, match="page 2 is not an image") as later:
        read_document(store=store, job=_scan_job(), text="", config=OcrConfig(), sleep=_no_sleep)
    assert later.value.reason == "unreadable"
    assert len(ocr.calls) == 1
