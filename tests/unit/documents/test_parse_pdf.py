"""tasks.documents.parse on PDFs: pages, encryption, corruption and hostile object graphs."""

from __future__ import annotations

import time
from typing import Any

import pytest
from pypdf import PageObject
from reportlab.lib.pdfencrypt import StandardEncryption

from tasks.documents import pdf as pdf_parser
from tasks.documents.errors import DocumentInvalid
from tasks.documents.parse import extract_text
from tests.support.hostile_files import FONT, stream
from tests.unit.documents.uploads import (
    BIG,
    PAGE_WITH_FORM,
    make_pdf,
    pypdf_encrypted,
    raw_pdf,
    reason_of,
)


def test_pdf_pages_are_separated_by_form_feed() -> None:
    parsed = extract_text(
        content=make_pdf(["Page one", "Page two", "Page three"]),
        filename="a.pdf",
        max_chars=BIG,
    )
    assert parsed.kind == "pdf"
    assert parsed.pages == 3
    assert [p.strip() for p in parsed.text.split("\f")] == ["Page one", "Page two", "Page three"]


def test_pdf_is_detected_by_magic_whatever_the_filename() -> None:
    content = make_pdf(["Magic wins"])
    for name in (None, "invoice.txt", "upload"):
        assert extract_text(content=content, filename=name, max_chars=BIG).kind == "pdf"


def test_two_hundred_page_pdf_is_generated_and_parsed_in_under_five_seconds() -> None:
    started = time.monotonic()
    content = make_pdf([f"This is page {n}" for n in range(1, 201)])
    parsed = extract_text(content=content, filename="big.pdf", max_chars=BIG)
    assert time.monotonic() - started < 5
    assert parsed.pages == 200
    assert parsed.text.count("\f") == 199
    assert parsed.text.split("\f")[199].strip() == "This is page 200"


def test_encrypted_pdf_is_invalid_not_a_crash() -> None:
    assert reason_of(pypdf_encrypted("s3cret"), "locked.pdf") == "encrypted_pdf"


def test_pdf_encrypted_with_empty_user_password_is_still_rejected() -> None:
    assert reason_of(pypdf_encrypted(""), "open-but-encrypted.pdf") == "encrypted_pdf"
    reportlab_locked = make_pdf(["x"], encrypt=StandardEncryption("", ownerPassword="o"))
    assert reason_of(reportlab_locked, None) == "encrypted_pdf"


@pytest.mark.parametrize("fraction", [0.1, 0.3, 0.5, 0.7, 0.95])
def test_truncated_pdf_is_unreadable_not_a_crash(fraction: float) -> None:
    content = make_pdf(["first", "second", "third"])
    assert reason_of(content[: int(len(content) * fraction)], "cut.pdf") == "unreadable_pdf"


def test_pdf_named_file_with_binary_junk_is_unreadable_pdf() -> None:
    assert reason_of(b"\x01\x02\x03" * 100, "fake.pdf") == "unreadable_pdf"


def test_cyclic_page_tree_is_unreadable_pdf() -> None:
    content = raw_pdf(
        [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [2 0 R 3 0 R] /Count 2 >>",  # the node is its own child
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R >>",
            stream(b"", b"BT /F1 12 Tf (loop) Tj ET"),
        ]
    )
    assert reason_of(content, "cycle.pdf") == "unreadable_pdf"


def test_exponential_form_xobject_tree_finishes_quickly_without_crash() -> None:
    # Billion laughs for PDF: each form draws the next one ten times, 9 levels deep
    # (10^8 leaf draws if nothing stops the walk).
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        PAGE_WITH_FORM,
        stream(b"", b"/X1 Do"),
        FONT,
    ]
    levels = 9
    for level in range(levels):
        if level < levels - 1:
            resources = b"<< /XObject << /X1 %d 0 R >> >>" % (7 + level)
            body = b"/X1 Do " * 10
        else:
            resources, body = b"<< /Font << /F1 5 0 R >> >>", b"BT /F1 12 Tf (lol) Tj ET"
        objects.append(
            stream(b"/Type /XObject /Subtype /Form /BBox [0 0 9 9] /Resources " + resources, body)
        )
    started = time.monotonic()
    outcome: int | str
    try:
        outcome = extract_text(
            content=raw_pdf(objects), filename="lol.pdf", max_chars=BIG
        ).text.count("lol")
    except DocumentInvalid as err:
        outcome = err.reason
    assert time.monotonic() - started < 20
    # Either pypdf's own invocation cap cut the walk short, or we refused the file.
    assert outcome in ("unreadable_pdf", "too_large") or 0 < int(outcome) < 100_000


@pytest.mark.parametrize(
    ("error", "name"),
    [(RecursionError("maximum recursion depth exceeded"), "deep"), (KeyError("/Resources"), "odd")],
    ids=["recursion_error", "unexpected_exception"],
)
def test_any_pypdf_failure_while_reading_a_page_becomes_unreadable_pdf(
    monkeypatch: pytest.MonkeyPatch, error: Exception, name: str
) -> None:
    def explode(self: PageObject, *args: Any, **kwargs: Any) -> str:
        raise error

    monkeypatch.setattr(PageObject, "extract_text", explode)
    assert reason_of(make_pdf([name]), f"{name}.pdf") == "unreadable_pdf"


def test_pdf_reading_stops_when_the_time_budget_is_spent(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    original = PageObject.extract_text

    def slow(self: PageObject, *args: Any, **kwargs: Any) -> str:
        calls.append(1)
        time.sleep(0.05)  # stands in for a hostile page that takes long to walk
        return original(self, *args, **kwargs)

    monkeypatch.setattr(PageObject, "extract_text", slow)
    content = make_pdf([f"page {n}" for n in range(20)])
    assert reason_of(content, "slow.pdf", pdf_time_budget_s=0.12) == "unreadable_pdf"
    assert len(calls) < 6


def test_pdf_with_too_many_pages_is_too_large(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pdf_parser, "MAX_PDF_PAGES", 5)
    assert reason_of(make_pdf(["p"] * 6), "long.pdf") == "too_large"


def test_pdf_over_max_chars_stops_early_as_too_large() -> None:
    content = make_pdf(["x" * 60, "y" * 60, "z" * 60])
    with pytest.raises(DocumentInvalid) as info:
        extract_text(content=content, filename="a.pdf", max_chars=100)
    assert info.value.reason == "too_large"
    assert "page 2 of 3" in str(info.value)


def test_a_pdf_without_a_text_layer_is_kept_for_ocr_of_every_page() -> None:
    parsed = extract_text(content=make_pdf(["", ""]), filename="scan.pdf", max_chars=10_000)
    assert (parsed.kind, parsed.pages, parsed.ocr_pages) == ("pdf", 2, (1, 2))


def test_only_the_pages_without_text_of_a_mixed_pdf_are_kept_for_ocr() -> None:
    parsed = extract_text(content=make_pdf(["one", "", "three"]), filename="m.pdf", max_chars=99)
    assert parsed.ocr_pages == (2,)
    assert [page.strip() for page in parsed.text.split("\f")] == ["one", "", "three"]
