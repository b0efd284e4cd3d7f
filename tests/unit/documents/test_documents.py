"""tasks.documents.parse: every upload becomes text or a DocumentInvalid, never a crash."""

from __future__ import annotations

import io
import pickle
import random
import time
import zipfile
from typing import Any

import docx
import pytest
from pypdf import PageObject, PdfWriter
from reportlab.lib.pdfencrypt import StandardEncryption
from reportlab.pdfgen import canvas

from tasks.documents import parse as documents
from tasks.documents.errors import DocumentInvalid
from tasks.documents.parse import ParsedDocument, extract_text

BIG = 10_000_000
OWNER = "owner-secret"  # the owner password of the encrypted test PDFs


def make_pdf(pages: list[str], encrypt: StandardEncryption | None = None) -> bytes:
    """A real PDF with one line of text per page."""
    buf = io.BytesIO()
    pdf = canvas.Canvas(buf, encrypt=encrypt)
    for text in pages:
        if text:
            pdf.drawString(72, 720, text)
        else:
            pdf.rect(72, 72, 100, 100)  # a page with graphics but no text
        pdf.showPage()
    pdf.save()
    return buf.getvalue()


def pypdf_encrypted(user_password: str) -> bytes:
    """A PDF encrypted by pypdf (RC4: AES would need the `cryptography` package)."""
    writer = PdfWriter(clone_from=io.BytesIO(make_pdf(["secret page"])))
    writer.encrypt(user_password=user_password, owner_password=OWNER, algorithm="RC4-128")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def raw_pdf(objects: list[bytes]) -> bytes:
    """A hand-built PDF (object 1 is the catalog) with a correct xref table."""
    out = bytearray(b"%PDF-1.7\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


def stream(data: bytes, extra: bytes = b"") -> bytes:
    """A PDF stream object body."""
    return b"<< %s /Length %d >>\nstream\n%s\nendstream" % (extra, len(data), data)


FONT = b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"
PAGE_WITH_FORM = (
    b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
    b"/Resources << /Font << /F1 5 0 R >> /XObject << /X1 6 0 R >> >> >>"
)


def make_docx(paragraphs: list[str], table: list[list[str]] | None = None) -> bytes:
    """A real DOCX written by python-docx."""
    document = docx.Document()
    for text in paragraphs:
        document.add_paragraph(text)
    if table:
        grid = document.add_table(rows=len(table), cols=len(table[0]))
        for r, row in enumerate(table):
            for c, value in enumerate(row):
                grid.cell(r, c).text = value
        document.add_paragraph("after the table")
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def zip_with_member(name: str, megabytes: int) -> bytes:
    """A zip whose member inflates to `megabytes` of zeros, streamed so memory stays small."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        zf.writestr("[Content_Types].xml", "<Types/>")
        with zf.open(name, "w", force_zip64=True) as member:
            block = b"\0" * (1 << 20)
            for _ in range(megabytes):
                member.write(block)
    return buf.getvalue()


@pytest.fixture(scope="module")
def zip_bomb() -> bytes:
    """300 MiB of zeros in ~300 KB: a real bomb, built once."""
    return zip_with_member("word/document.xml", 300)


def reason_of(content: bytes, filename: str | None, max_chars: int = BIG, **kw: Any) -> str:
    """Run extract_text expecting DocumentInvalid; return its reason."""
    with pytest.raises(DocumentInvalid) as info:
        extract_text(content=content, filename=filename, max_chars=max_chars, **kw)
    assert str(info.value)  # always a human-readable message
    return info.value.reason


# --- plain text ------------------------------------------------------------------------


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


def test_png_upload_is_unsupported_type() -> None:
    assert reason_of(b"\x89PNG\r\n\x1a\n" + b"\x00" * 100, "scan.png") == "unsupported_type"


def test_whitespace_only_document_is_empty() -> None:
    assert reason_of(b" \n\t\n \x00 ", "x.txt") == "empty"


def test_text_longer_than_max_chars_is_too_large() -> None:
    assert reason_of(b"x" * 101, "x.txt", max_chars=100) == "too_large"
    assert extract_text(content=b"x" * 100, filename="x.txt", max_chars=100).text == "x" * 100


# --- PDF -------------------------------------------------------------------------------


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
            stream(b"BT /F1 12 Tf (loop) Tj ET"),
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
        stream(b"/X1 Do"),
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
            stream(body, b"/Type /XObject /Subtype /Form /BBox [0 0 9 9] /Resources " + resources)
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


def test_recursion_error_inside_pypdf_becomes_unreadable_pdf(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def explode(self: PageObject, *args: Any, **kwargs: Any) -> str:
        raise RecursionError("maximum recursion depth exceeded")

    monkeypatch.setattr(PageObject, "extract_text", explode)
    assert reason_of(make_pdf(["deep"]), "deep.pdf") == "unreadable_pdf"


def test_unexpected_pypdf_exception_becomes_unreadable_pdf(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def explode(self: PageObject, *args: Any, **kwargs: Any) -> str:
        raise KeyError("/Resources")

    monkeypatch.setattr(PageObject, "extract_text", explode)
    assert reason_of(make_pdf(["odd"]), "odd.pdf") == "unreadable_pdf"


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
    monkeypatch.setattr(documents, "MAX_PDF_PAGES", 5)
    assert reason_of(make_pdf(["p"] * 6), "long.pdf") == "too_large"


def test_pdf_over_max_chars_stops_early_as_too_large() -> None:
    content = make_pdf(["x" * 60, "y" * 60, "z" * 60])
    with pytest.raises(DocumentInvalid) as info:
        extract_text(content=content, filename="a.pdf", max_chars=100)
    assert info.value.reason == "too_large"
    assert "page 2 of 3" in str(info.value)


def test_pdf_without_text_is_empty() -> None:
    assert reason_of(make_pdf(["", ""]), "scan.pdf") == "empty"


# --- DOCX ------------------------------------------------------------------------------


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
    monkeypatch.setattr(documents, "ZIP_MAX_MEMBERS", 20)
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


# --- HTML ------------------------------------------------------------------------------


def test_html_drops_script_and_style_and_keeps_block_boundaries() -> None:
    page = (
        b"<!DOCTYPE html><html><head><title>T</title><style>p{color:red}</style></head>"
        b"<body><script>var x = 1;</script><h1>Invoice</h1><p>Total:   <b>42</b>\n EUR</p>"
        b"<ul><li>one</li><li>two</li></ul>line<br>break</body></html>"
    )
    parsed = extract_text(content=page, filename="a.html", max_chars=BIG)
    assert parsed.kind == "html"
    assert "var x" not in parsed.text
    assert "color" not in parsed.text
    lines = [line for line in parsed.text.split("\n") if line]
    assert lines == ["T", "Invoice", "Total: 42 EUR", "one", "two", "line", "break"]


def test_html_pre_keeps_indentation_and_table_cells_become_columns() -> None:
    page = (
        b"<html><body><pre>def f():\n    return 1</pre>"
        b"<table><tr><td>Item</td><td> Price </td></tr><tr><td>Paper</td><td>4.99</td></tr>"
        b"</table></body></html>"
    )
    parsed = extract_text(content=page, filename="a.htm", max_chars=BIG)
    assert "def f():\n    return 1" in parsed.text
    assert "Item\tPrice\n" in parsed.text
    assert "Paper\t4.99" in parsed.text


def test_html_is_detected_by_content_without_filename() -> None:
    parsed = extract_text(
        content=b"  <html><body><p>a &amp; b</p></body></html>", filename=None, max_chars=BIG
    )
    assert parsed.kind == "html"
    assert parsed.text == "a & b"


def test_html_with_only_markup_is_empty() -> None:
    assert reason_of(b"<html><script>x()</script><p> </p></html>", "a.html") == "empty"


# --- the error itself and robustness -----------------------------------------------------


def test_document_invalid_carries_reason_is_not_retryable_and_pickles() -> None:
    err = DocumentInvalid("empty", "the text document contains no text")
    assert (err.reason, err.retryable, str(err)) == (
        "empty",
        False,
        "the text document contains no text",
    )
    clone = pickle.loads(pickle.dumps(err))  # noqa: S301 - our own bytes
    assert (clone.reason, str(clone)) == (err.reason, str(err))


def test_no_exception_other_than_document_invalid_escapes_on_mangled_files() -> None:
    rng = random.Random(1234)
    seeds = [make_pdf(["alpha", "beta"]), make_docx(["gamma"]), b"<html><p>delta</p></html>"]
    for _ in range(150):
        data = bytearray(rng.choice(seeds))
        for _ in range(rng.randint(1, 20)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        if rng.random() < 0.3:
            del data[rng.randrange(len(data)) :]
        try:
            result = extract_text(
                content=bytes(data), filename=rng.choice([None, "f.pdf"]), max_chars=BIG
            )
        except DocumentInvalid:
            continue
        assert isinstance(result, ParsedDocument)
        assert result.text.strip()
