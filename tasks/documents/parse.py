"""Turn an uploaded file (text, Markdown, PDF, HTML, DOCX) into plain text.

Uploads are untrusted: every parser failure, hostile structure or resource blow-up is
reported as `DocumentInvalid` with a short reason code, never as a crash.
"""

from __future__ import annotations

import io
import re
import time
import zipfile
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Literal

import docx
from docx.table import Table
from pypdf import PdfReader

from tasks.documents.errors import DocumentInvalid

__all__ = ["DocumentInvalid", "Kind", "ParsedDocument", "extract_text"]

Kind = Literal["text", "markdown", "pdf", "html", "docx"]

MAX_PDF_PAGES = 2000
PDF_TIME_BUDGET_S = 20.0  # legit PDFs take milliseconds a page; hostile ones stall
ZIP_MAX_TOTAL_BYTES = 100 * 1024 * 1024
ZIP_MAX_RATIO = 100
ZIP_MAX_MEMBERS = 10_000
# Small members (styles, empty parts) legitimately compress far better than 100:1.
_ZIP_RATIO_MIN_BYTES = 1024 * 1024
_ENCRYPTED_MSG = "the PDF is encrypted or password-protected; upload an unprotected copy"

_EXTENSIONS: dict[str, Kind] = {
    "txt": "text",
    "text": "text",
    "csv": "text",
    "tsv": "text",
    "log": "text",
    "json": "text",
    "xml": "text",
    "md": "markdown",
    "markdown": "markdown",
    "pdf": "pdf",
    "html": "html",
    "htm": "html",
    "xhtml": "html",
    "docx": "docx",
}
# C0/C1 controls except \t \n \f, plus lone surrogates: Postgres text rejects NUL and
# JSON encoders reject surrogates, and none of them carry meaning for an LLM.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
_HTML_SNIFF = re.compile(
    rb"^(?:\xef\xbb\xbf)?\s*(?:<!--.*?-->\s*)*<(?:!doctype\s+html|html)[\s>]", re.I | re.S
)


@dataclass(frozen=True, slots=True)
class ParsedDocument:
    """Text extracted from an upload; PDF pages are separated by form feeds."""

    text: str
    kind: Kind
    pages: int | None


def extract_text(
    *,
    content: bytes,
    filename: str | None,
    max_chars: int,
    pdf_time_budget_s: float = PDF_TIME_BUDGET_S,
) -> ParsedDocument:
    """Detect the upload's kind and extract its text, or raise DocumentInvalid."""
    kind = _detect_kind(content, filename)
    pages: int | None = None
    try:
        if kind == "pdf":
            text, pages = _pdf_text(content, max_chars, pdf_time_budget_s)
        elif kind == "docx":
            text = _docx_text(content)
        elif kind == "html":
            text = _html_text(_decode(content))
        else:
            text = _clean(_decode(content))
    except DocumentInvalid:
        raise
    except Exception as exc:  # hostile input must never crash a worker
        raise DocumentInvalid("unreadable", f"the {kind} file is unreadable: {_why(exc)}") from exc
    if not text.strip():
        hint = " (a scanned PDF? OCR is not supported)" if kind == "pdf" else ""
        raise DocumentInvalid("empty", f"the {kind} document contains no text{hint}")
    if len(text) > max_chars:
        raise DocumentInvalid(
            "too_large", f"the document has {len(text):,} characters; the limit is {max_chars:,}"
        )
    return ParsedDocument(text=text, kind=kind, pages=pages)


def _detect_kind(content: bytes, filename: str | None) -> Kind:
    """Choose the parser: content magic wins, then the extension, then sniffing."""
    if content.startswith(b"%PDF-"):
        return "pdf"
    if content.startswith(b"PK\x03\x04"):
        return "docx"  # _docx_text rejects zips that are not Word documents
    ext = filename.rsplit(".", 1)[-1].lower() if filename and "." in filename else ""
    claimed = _EXTENSIONS.get(ext)
    # A declared .txt/.md is trusted even if it holds markup (Markdown may embed HTML);
    # sniffing only repairs a missing, unknown or binary-format extension.
    if claimed not in ("text", "markdown", "html") and _HTML_SNIFF.match(content[:4096]):
        return "html"
    if claimed == "pdf" and not _looks_like_text(content):
        raise DocumentInvalid("unreadable_pdf", "the file is named .pdf but is not a PDF")
    if claimed in ("pdf", "docx"):
        # Named like a binary format but is plain text: read it as text rather than fail.
        return "text"
    return claimed or "text"


def _looks_like_text(content: bytes) -> bool:
    """Guess whether undecodable bytes are a legacy 8-bit text encoding, not binary."""
    sample = content[:65536]
    if b"\x00" in sample:
        return False
    controls = sum(1 for b in sample if b < 0x20 and b not in b"\t\n\r\f")
    return controls <= len(sample) // 100


def _decode(content: bytes) -> str:
    """Decode text: BOMs, then UTF-8, then cp1252/Latin-1 only if it looks like text."""
    if content.startswith((b"\xff\xfe", b"\xfe\xff")):
        return content.decode("utf-16", errors="replace")  # Windows "Unicode" exports
    try:
        return content.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    if _looks_like_text(content):
        # "Latin-1" files are almost always Windows-1252, which maps 0x80-0x9F to
        # printable characters (the euro sign...); its 5 undefined bytes are Latin-1 C1
        # controls, which _clean drops anyway.
        return content.decode("cp1252", errors="ignore")
    raise DocumentInvalid(
        "unsupported_type",
        "the file is not a supported document (text, Markdown, PDF, HTML, DOCX); "
        "images and legacy .doc files are not supported",
    )


def _why(exc: Exception) -> str:
    """A short human-readable cause for a parser exception."""
    if isinstance(exc, RecursionError):
        return "its object structure is nested too deeply (possibly hostile)"
    return f"{type(exc).__name__}: {exc}"[:200]


def _clean(text: str) -> str:
    """Normalise line endings and drop control characters other than \\n \\t \\f."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return _CONTROL.sub("", text)


def _pdf_text(content: bytes, max_chars: int, budget_s: float) -> tuple[str, int]:
    """Extract page texts joined by form feeds, bounded in pages, chars and time."""
    try:
        reader = PdfReader(io.BytesIO(content), strict=False)
        encrypted = reader.is_encrypted
    except Exception as exc:  # any parser failure means "unreadable"
        # Encryption pypdf cannot even open (AES without `cryptography`) fails here.
        if b"/Encrypt" in content[-65536:] or "ncrypt" in str(exc):
            raise DocumentInvalid("encrypted_pdf", _ENCRYPTED_MSG) from exc
        raise DocumentInvalid("unreadable_pdf", f"the PDF is corrupt: {_why(exc)}") from exc
    if encrypted:
        # pypdf silently opens PDFs with an empty user password; refuse those too,
        # because the owner restricted them and the text may be garbled anyway.
        raise DocumentInvalid("encrypted_pdf", _ENCRYPTED_MSG)
    try:
        return _pdf_pages(reader, max_chars, budget_s)
    except DocumentInvalid:
        raise
    except Exception as exc:  # pypdf raises many types on bad input, RecursionError too
        raise DocumentInvalid("unreadable_pdf", f"the PDF is corrupt: {_why(exc)}") from exc


def _pdf_pages(reader: PdfReader, max_chars: int, budget_s: float) -> tuple[str, int]:
    """Read each page's text, stopping at the page, character and time limits."""
    started = time.monotonic()
    count = len(reader.pages)
    if count > MAX_PDF_PAGES:
        raise DocumentInvalid(
            "too_large", f"the PDF has {count:,} pages; the limit is {MAX_PDF_PAGES:,}"
        )
    texts: list[str] = []
    total = 0
    for number, page in enumerate(reader.pages, start=1):
        # Checked between pages: a hostile object graph slows every page down.
        if time.monotonic() - started > budget_s:
            raise DocumentInvalid(
                "unreadable_pdf",
                f"reading the PDF took over {budget_s:g} s (stopped at page {number} "
                f"of {count}); it may be malformed",
            )
        # Form feeds inside a page would fake page boundaries for the chunker.
        page_text = _clean(page.extract_text() or "").replace("\f", "\n")
        texts.append(page_text)
        total += len(page_text) + 1
        # Stop early: a huge PDF should not be read to the end only to be refused.
        if total > max_chars + 1:
            raise DocumentInvalid(
                "too_large",
                f"the PDF has over {max_chars:,} characters of text (reached by page "
                f"{number} of {count})",
            )
    return "\f".join(texts), count


def _docx_text(content: bytes) -> str:
    """Extract paragraphs and table rows from a DOCX after checking for a zip bomb."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(content))
        infos = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError) as exc:
        raise DocumentInvalid("unreadable_docx", f"the DOCX is not a valid zip: {exc}") from exc
    _check_zip_bomb(infos)
    if "word/document.xml" not in archive.namelist():
        raise DocumentInvalid(
            "unsupported_type", "the zip archive is not a Word document (no word/document.xml)"
        )
    try:
        # python-docx parses with lxml resolve_entities=False: no entity expansion.
        document = docx.Document(io.BytesIO(content))
        lines: list[str] = []
        for block in document.iter_inner_content():
            if isinstance(block, Table):
                lines.extend("\t".join(cell.text for cell in row.cells) for row in block.rows)
            else:
                lines.append(block.text)
    except Exception as exc:  # python-docx/lxml raise many types, RecursionError too
        raise DocumentInvalid("unreadable_docx", f"the DOCX is corrupt: {_why(exc)}") from exc
    return _clean("\n".join(lines))


def _check_zip_bomb(infos: list[zipfile.ZipInfo]) -> None:
    """Reject archives whose declared sizes would inflate too far, before reading any."""
    # zipfile inflates deflate in bounded steps and never yields more than a member's
    # declared file_size (then checks the CRC), so the central directory's sizes bound
    # what parsing can inflate. bz2/lzma inflate unbounded per step, and Word never
    # writes them.
    if any(i.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED) for i in infos):
        raise DocumentInvalid("zip_bomb", "the archive uses a compression Word never writes")
    if len(infos) > ZIP_MAX_MEMBERS:
        raise DocumentInvalid("zip_bomb", f"the archive has {len(infos):,} members")
    total = sum(i.file_size for i in infos)
    packed = sum(i.compress_size for i in infos)
    if total > ZIP_MAX_TOTAL_BYTES:
        raise DocumentInvalid(
            "zip_bomb",
            f"the archive would inflate to {total / 2**20:,.0f} MiB; "
            f"the limit is {ZIP_MAX_TOTAL_BYTES // 2**20} MiB",
        )
    for name, size, csize in [("the archive", total, packed)] + [
        (repr(i.filename), i.file_size, i.compress_size) for i in infos
    ]:
        if size >= _ZIP_RATIO_MIN_BYTES and size > ZIP_MAX_RATIO * max(csize, 1):
            raise DocumentInvalid(
                "zip_bomb",
                f"{name} compresses {size // max(csize, 1):,}:1 (limit {ZIP_MAX_RATIO}:1)",
            )


_SKIP_TAGS = frozenset({"script", "style", "noscript", "template", "svg"})
# Paragraph-like blocks are separated by a blank line (the chunker splits there);
# line-like ones by a single line break.
_PARAGRAPH_TAGS = frozenset(
    {
        "p",
        "div",
        "table",
        "ul",
        "ol",
        "dl",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "pre",
        "section",
        "article",
        "header",
        "footer",
        "nav",
        "aside",
        "main",
        "blockquote",
        "hr",
        "form",
        "figure",
        "address",
    }
)
_LINE_TAGS = frozenset({"br", "li", "tr", "dt", "dd", "title", "caption", "figcaption"})


class _TextCollector(HTMLParser):
    """Collects visible text, turning block elements into line breaks."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.newlines = 0  # line breaks at the end of the output so far
        self.skip_depth = 0
        self.pre_depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP_TAGS:
            self.skip_depth += 1
        elif tag in _PARAGRAPH_TAGS or tag in _LINE_TAGS:
            self._break(2 if tag in _PARAGRAPH_TAGS else 1)
            self.pre_depth += tag == "pre"
        elif tag in ("td", "th") and self.parts and not self.newlines:
            self.parts.append("\t")  # cells of a row become tab-separated columns

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP_TAGS:
            self.skip_depth = max(0, self.skip_depth - 1)
        elif tag in _PARAGRAPH_TAGS or tag in _LINE_TAGS:
            self.pre_depth = max(0, self.pre_depth - (tag == "pre"))
            self._break(2 if tag in _PARAGRAPH_TAGS else 1)

    def handle_data(self, data: str) -> None:
        if self.skip_depth:
            return
        if not self.pre_depth:
            # Outside <pre>, HTML collapses whitespace runs to one space, and neither a
            # line nor a table cell starts with one.
            data = re.sub(r"\s+", " ", data)
            if not self.parts or self.newlines or self.parts[-1].endswith("\t"):
                data = data.lstrip(" ")
        if data:
            self.parts.append(data)
            self.newlines = len(data) - len(data.rstrip("\n"))

    def _break(self, count: int) -> None:
        if not self.parts:
            return  # no leading blank lines
        if not self.pre_depth:
            self.parts[-1] = self.parts[-1].rstrip(" \t")
        self.parts.append("\n" * max(0, count - self.newlines))
        self.newlines = max(count, self.newlines)


def _html_text(markup: str) -> str:
    """Extract visible text from HTML, one line per block element."""
    collector = _TextCollector()
    collector.feed(markup)
    collector.close()
    return _clean("".join(collector.parts).strip("\n"))
