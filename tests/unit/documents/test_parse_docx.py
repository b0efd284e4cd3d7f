"""tasks.documents.parse on DOCX: paragraphs and tables, and zip bombs refused unopened."""

from __future__ import annotations

import io
import zipfile
from typing import Any

import pytest

from tasks.documents import docx as docx_parser
from tasks.documents.parse import extract_text
from tests.unit.documents.uploads import BIG, make_docx, reason_of, zip_with_member


@pytest.fixture(scope="module")
def zip_bomb() -> bytes:
    """300 MiB of zeros in ~300 KB: a real bomb, built once."""
    return zip_with_member("word/document.xml", 300)


def test_docx_paragraphs_and_tables_are_extracted_in_order() -> None:
    content = make_docx(
        ["Intro line", "Second paragraph"], table=[["Item", "Price"], ["Paper", "4.99"]]
    )
    parsed = extract_text(content=content, filename="a.docx", max_chars=BIG)
    assert parsed.kind == "docx"
    assert parsed.pages is None
    assert parsed.text.split("\n") == [
        "Intro line",
        "Second paragraph",
        "Item\tPrice",
        "Paper\t4.99",
        "after the table",
    ]


def test_docx_is_detected_by_magic_without_filename() -> None:
    assert extract_text(content=make_docx(["hi"]), filename=None, max_chars=BIG).kind == "docx"


def test_zip_bomb_renamed_docx_is_rejected_before_inflating(
    zip_bomb: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    opened: list[str] = []
    original_open = zipfile.ZipFile.open

    def spy(self: zipfile.ZipFile, name: Any, *args: Any, **kwargs: Any) -> Any:
        opened.append(str(name))
        return original_open(self, name, *args, **kwargs)

    monkeypatch.setattr(zipfile.ZipFile, "open", spy)
    assert len(zip_bomb) < 2_000_000
    assert reason_of(zip_bomb, "report.docx") == "zip_bomb"
    assert opened == []  # no member was ever opened, let alone inflated


def test_zip_bomb_is_detected_whatever_the_filename(zip_bomb: bytes) -> None:
    for name in (None, "notes.txt", "scan.pdf"):
        assert reason_of(zip_bomb, name) == "zip_bomb"


def test_small_member_compressed_over_100_to_1_is_a_zip_bomb() -> None:
    # 8 MiB is under the size limit; only the compression ratio gives it away.
    assert reason_of(zip_with_member("word/document.xml", 8), "a.docx") == "zip_bomb"


def test_zip_with_bzip2_members_is_rejected_unopened() -> None:
    # bz2/lzma inflate without a per-step bound, and Word never writes them.
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_BZIP2) as zf:
        zf.writestr("word/document.xml", "<w:document/>")
    assert reason_of(buf.getvalue(), "a.docx") == "zip_bomb"


def test_zip_with_too_many_members_is_a_zip_bomb(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(docx_parser, "ZIP_MAX_MEMBERS", 20)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for n in range(21):
            zf.writestr(f"word/part{n}.xml", "<x/>")
    assert reason_of(buf.getvalue(), "many.docx") == "zip_bomb"


def test_zip_without_word_document_is_unsupported_type() -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("xl/workbook.xml", "<workbook/>")
    assert reason_of(buf.getvalue(), "sheet.docx") == "unsupported_type"


def test_corrupt_docx_is_unreadable_docx() -> None:
    good = make_docx(["hello"])
    assert reason_of(good[: len(good) // 2], "half.docx") == "unreadable_docx"
