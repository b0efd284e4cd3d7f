"""OCR of scanned PDF pages and image uploads with Tesseract, bounded in pages and time.

Runs in the calling process: hostile input can still stall pdfium inside one page, so
untrusted documents go through `tasks.documents.ocr_run.run_ocr`, which runs this in a
child process capped in memory and killed past its wall clock.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal

import pytesseract

from schemas.trust.config import OcrConfig
from tasks.documents.errors import DocumentInvalid
from tasks.documents.ocr_layout import page_layout
from tasks.documents.pdf import PDF_TIME_BUDGET_S, pdf_text
from tasks.documents.rasters import open_pages
from tasks.errors import TaskError

__all__ = [
    "OcrResult",
    "OcrUnavailable",
    "OcrWord",
    "count_pages",
    "needs_ocr_pages",
    "ocr_document",
    "pages_without_text",
]

OcrKind = Literal["pdf", "image"]


@dataclass(frozen=True, slots=True)
class OcrWord:
    """One recognised word: `texts[page][start:end]`, and Tesseract's confidence 0-1."""

    page: int
    start: int
    end: int
    conf: float


@dataclass(frozen=True)
class OcrResult:
    """The text OCR read, by 1-based page, with each word's place and confidence."""

    texts: dict[int, str]  # only the pages OCR'd (a PDF's text-layer pages are not here)
    words: tuple[OcrWord, ...]
    pages: tuple[int, ...]  # the pages OCR'd, in order
    warnings: tuple[str, ...]  # limits that cut the OCR short, pages read at a lower dpi
    page_count: int  # pages (or TIFF frames) in the whole document

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready form (words as [page, start, end, conf] lists)."""
        return {
            "texts": {str(page): text for page, text in self.texts.items()},
            "words": [[w.page, w.start, w.end, w.conf] for w in self.words],
            "pages": list(self.pages),
            "warnings": list(self.warnings),
            "page_count": self.page_count,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> OcrResult:
        """Rebuild a result from `as_dict` output."""
        return cls(
            texts={int(page): str(text) for page, text in data["texts"].items()},
            words=tuple(OcrWord(int(p), int(s), int(e), float(c)) for p, s, e, c in data["words"]),
            pages=tuple(int(page) for page in data["pages"]),
            warnings=tuple(str(warning) for warning in data["warnings"]),
            page_count=int(data["page_count"]),
        )


class OcrUnavailable(TaskError):
    """Tesseract or a configured language is missing on this machine: not the document's fault."""


def pages_without_text(text: str) -> list[int]:
    """The 1-based pages of `extract_text`'s PDF text (form-feed separated) that are blank."""
    return [number for number, page in enumerate(text.split("\f"), start=1) if not page.strip()]


def needs_ocr_pages(content: bytes, budget_s: float = PDF_TIME_BUDGET_S) -> list[int]:
    """The 1-based pages of a PDF with no text layer (pypdf finds no text on them).

    pypdf runs in this process: for an untrusted PDF prefer `pages_without_text` on the
    text the parse sandbox returned.
    """
    text, _ = pdf_text(content, sys.maxsize, budget_s)
    return pages_without_text(text)


def count_pages(content: bytes, kind: OcrKind) -> int:
    """A PDF's pages (its page tree's count, O(1)) or an image's frames, none decoded."""
    with open_pages(content, kind) as source:
        return source.count


@lru_cache(maxsize=8)
def _check_languages(languages: str) -> None:
    """Fail before any page if Tesseract or one of `languages` ("eng+deu") is missing."""
    try:
        installed = set(pytesseract.get_languages(config=""))
    except pytesseract.TesseractNotFoundError as exc:
        raise OcrUnavailable("the tesseract program is not installed on this worker") from exc
    missing = sorted(set(languages.split("+")) - installed)
    if missing:
        raise OcrUnavailable(f"Tesseract has no data for the language(s) {', '.join(missing)}")


def _selected(pages: list[int] | None, count: int) -> list[int]:
    if pages is None:
        return list(range(1, count + 1))
    wanted = sorted(set(pages))
    if wanted and not 1 <= wanted[0] <= wanted[-1] <= count:
        raise ValueError(f"pages {pages} are not all within the document's 1-{count}")
    return wanted


def _page_limit(wanted: list[int], config: OcrConfig, warnings: list[str]) -> list[int]:
    """Apply max_pages before anything is rendered: cut (with a warning) or fail."""
    if len(wanted) <= config.max_pages:
        return wanted
    if config.on_limit == "fail":
        raise DocumentInvalid(
            "too_large",
            f"the document has {len(wanted):,} pages to OCR; the limit is {config.max_pages:,}",
        )
    warnings.append(
        f"OCR stopped at the page limit: {config.max_pages:,} of {len(wanted):,} pages read"
    )
    return wanted[: config.max_pages]


def _out_of_time(config: OcrConfig, done: int, total: int, warnings: list[str]) -> None:
    """The time limit passed after `done` pages: fail, or warn and keep them."""
    limit = f"{config.time_limit_s:g} s"
    if config.on_limit == "fail":
        raise DocumentInvalid(
            "ocr_timeout",
            f"OCR of the document exceeded its time limit ({limit}) after {done:,} of "
            f"{total:,} pages",
        )
    warnings.append(f"OCR stopped at the time limit ({limit}): {done:,} of {total:,} pages read")


def _tesseract(image: Any, config: OcrConfig, timeout: float, number: int) -> dict[str, Any]:
    """Tesseract's word table for one page (RuntimeError if it ran past `timeout`)."""
    try:
        data: dict[str, Any] = pytesseract.image_to_data(
            image, lang=config.languages, output_type=pytesseract.Output.DICT, timeout=timeout
        )
    except pytesseract.TesseractError as exc:
        detail = str(exc.message)[:200]
        raise DocumentInvalid(
            "unreadable", f"Tesseract could not read page {number}: {detail}"
        ) from exc
    return data


def ocr_document(
    *,
    content: bytes,
    kind: OcrKind,
    pages: list[int] | None,
    config: OcrConfig,
    clock: Callable[[], float] = time.monotonic,
) -> OcrResult:
    """OCR the given 1-based pages (None: every page or frame) within config's limits.

    `clock` is read once at the start and once before each page; the time left then is
    the Tesseract timeout for that page.
    """
    started = clock()
    if len(content) > config.max_source_bytes:
        raise DocumentInvalid(
            "too_large",
            f"the scan has {len(content):,} bytes; OCR reads at most {config.max_source_bytes:,}",
        )
    _check_languages(config.languages)
    warnings: list[str] = []
    texts: dict[int, str] = {}
    words: list[OcrWord] = []
    with open_pages(content, kind) as source:
        wanted = _selected(pages, source.count)
        targets = _page_limit(wanted, config, warnings)
        for number in targets:
            remaining = config.time_limit_s - (clock() - started)
            if remaining <= 0:
                _out_of_time(config, len(texts), len(wanted), warnings)
                break
            image, note = source.render(number, config.dpi)
            try:
                data = _tesseract(image, config, remaining, number)
            except RuntimeError as exc:  # pytesseract killed Tesseract at the timeout
                if "timeout" not in str(exc):
                    raise
                _out_of_time(config, len(texts), len(wanted), warnings)
                break
            finally:
                image.close()
            text, page_words = page_layout(data)
            texts[number] = text
            words += (OcrWord(number, w.start, w.end, w.conf) for w in page_words)
            if note:
                warnings.append(note)
        count = source.count
    return OcrResult(
        texts=texts,
        words=tuple(words),
        pages=tuple(texts),
        warnings=tuple(warnings),
        page_count=count,
    )
