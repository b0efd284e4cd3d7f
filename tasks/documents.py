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

from tasks.doc_errors import DocumentInvalid

__all__ = ["DocumentInvalid", "Kind", "ParsedDocument", "extract_text"]

Kind = Literal["text", "markdown", "pdf", "html", "docx"]

MAX_PDF_PAGES = 2000
PDF_TIME_BUDGET_S = 60.0
ZIP_MAX_TOTAL_BYTES = 100 * 1024 * 1024
ZIP_MAX_RATIO = 100
ZIP_MAX_MEMBERS = 10_000
# Small members (styles, empty parts) legitimately compress far better than 100:1.
_ZIP_RATIO_MIN_BYTES = 1024 * 1024

_EXTENSIONS: dict[str, Kind] = {
    "txt": "text", "text": "text", "csv": "text", "tsv": "text", "log": "text",
    "json": "text", "xml": "text", "md": "markdown", "markdown": "markdown",
    "pdf": "pdf", "html": "html", "htm": "html", "xhtml": "html", "docx": "docx",
}
# Binary formats people upload by mistake: name them instead of saying "not text".
_KNOWN_BINARY = {
    b"\xd0\xcf\x11\xe0": "legacy Office (.doc/.xls) files are not supported; save as .docx",
    b"\x89PNG": "images are not supported (no OCR)",
    b"\xff\xd8\xff": "images are not supported (no OCR)",
    b"GIF8": "images are not supported (no OCR)",
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
        raise DocumentInvalid(
            "unreadable", f"could not read the {kind} document: {type(exc).__name__}"
        ) from exc
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
    for magic, why in _KNOWN_BINARY.items():
        if content.startswith(magic):
            raise DocumentInvalid("unsupported_type", f"{filename or 'upload'}: {why}")
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
        try:
            return content.decode("utf-16")
        except UnicodeDecodeError:
            pass
    try:
        return content.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    if _looks_like_text(content):
        # Windows-1252 is what "Latin-1" files almost always are (it maps 0x80-0x9F to
        # printable characters such as the euro sign); true Latin-1 covers its 5 holes.
        try:
            return content.decode("cp1252")
        except UnicodeDecodeError:
            return content.decode("latin-1")
    raise DocumentInvalid(
        "unsupported_type", "the file is neither a supported document nor readable text"
    )


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
        if b"/Encrypt" in content[-65536:] or "ncrypt" in str(exc):
            raise DocumentInvalid("encrypted_pdf", _ENCRYPTED_MSG) from exc
        raise DocumentInvalid("unreadable_pdf", f"the PDF is corrupt: {exc}") from exc
    if encrypted:
        # pypdf silently opens PDFs with an empty user password; refuse those too,
        # because the owner restricted them and the text may be garbled anyway.
        raise DocumentInvalid("encrypted_pdf", _ENCRYPTED_MSG)
    try:
        return _pdf_pages(reader, max_chars, budget_s)
    except DocumentInvalid:
        raise
    except RecursionError as exc:
        raise DocumentInvalid("unreadable_pdf", "the PDF's object tree is too deep") from exc
    except Exception as exc:  # pypdf raises many types on bad input
        raise DocumentInvalid(
            "unreadable_pdf", f"the PDF is corrupt: {type(exc).__name__}: {exc}"
        ) from exc


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


_ENCRYPTED_MSG = "the PDF is encrypted or password-protected; upload an unprotected copy"


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
                lines.extend(
                    "\t".join(cell.text for cell in row.cells) for row in block.rows
                )
            else:
                lines.append(block.text)
    except RecursionError as exc:
        raise DocumentInvalid("unreadable_docx", "the DOCX structure is too deep") from exc
    except Exception as exc:  # python-docx/lxml raise many types
        raise DocumentInvalid(
            "unreadable_docx", f"the DOCX could not be parsed: {type(exc).__name__}: {exc}"
        ) from exc
    return _clean("\n".join(lines))


def _check_zip_bomb(infos: list[zipfile.ZipInfo]) -> None:
    """Reject archives whose declared sizes would inflate too far, before reading any."""
    # zipfile never yields more than a member's declared file_size (and checks the CRC),
    # so the central directory's sizes bound what parsing can inflate.
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
    for info in infos:
        big = info.file_size >= _ZIP_RATIO_MIN_BYTES
        if big and info.file_size > ZIP_MAX_RATIO * max(info.compress_size, 1):
            raise DocumentInvalid(
                "zip_bomb",
                f"archive member {info.filename!r} compresses "
                f"{info.file_size // max(info.compress_size, 1):,}:1 (limit {ZIP_MAX_RATIO}:1)",
            )
    if total >= _ZIP_RATIO_MIN_BYTES and total > ZIP_MAX_RATIO * max(packed, 1):
        raise DocumentInvalid(
            "zip_bomb", f"the archive compresses {total // max(packed, 1):,}:1 overall"
        )


_SKIP_TAGS = frozenset({"script", "style", "noscript", "template", "svg"})
_BLOCK_TAGS = frozenset({
    "p", "div", "br", "li", "ul", "ol", "tr", "table", "h1", "h2", "h3", "h4", "h5", "h6",
    "section", "article", "header", "footer", "nav", "aside", "main", "blockquote", "pre",
    "hr", "dl", "dt", "dd", "form", "figure", "figcaption", "address", "title", "caption",
})
_CELL_TAGS = frozenset({"td", "th"})


class _TextCollector(HTMLParser):
    """Collects visible text, turning block elements into line breaks."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skip_depth = 0
        self.pre_depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP_TAGS:
            self.skip_depth += 1
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n")
            self.pre_depth += tag == "pre"
        elif tag in _CELL_TAGS:
            self.parts.append("\t")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP_TAGS:
            self.skip_depth = max(0, self.skip_depth - 1)
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n")
            self.pre_depth = max(0, self.pre_depth - (tag == "pre"))

    def handle_data(self, data: str) -> None:
        if self.skip_depth:
            return
        # Outside <pre>, HTML collapses whitespace runs to one space.
        self.parts.append(data if self.pre_depth else re.sub(r"\s+", " ", data))


def _html_text(markup: str) -> str:
    """Extract visible text from HTML, one line per block element."""
    collector = _TextCollector()
    collector.feed(markup)
    collector.close()
    lines = (line.strip(" ") for line in "".join(collector.parts).split("\n"))
    # Collapse the runs of blank lines nested blocks produce into one paragraph break.
    text = re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip("\n")
    return _clean(text)
