"""Page images for OCR: PDF pages rendered by pdfium, image frames decoded by Pillow.

pdfium is not thread-safe, and pypdfium2 frees its objects in finalizers that may run on
any thread, so every pdfium call, closing included, holds `PDFIUM_LOCK`, and every object
is closed explicitly (a closed object's finalizer does nothing).
"""

from __future__ import annotations

import io
import math
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Literal, Protocol

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c
from PIL import Image, ImageOps

from tasks.documents.errors import DocumentInvalid
from tasks.documents.images import IMAGE_FORMATS
from tasks.documents.sniff import why

__all__ = ["MAX_PIXELS", "PDFIUM_LOCK", "PageSource", "open_pages"]

PDFIUM_LOCK = threading.Lock()  # one lock for every pdfium call in the process
# A page image past this is refused (images) or rendered at a lower dpi (PDF pages): an
# A4 page at 600 dpi is 35 Mpx, and Tesseract reads nothing more from larger bitmaps.
MAX_PIXELS = 50_000_000


class PageSource(Protocol):
    """A document's pages as images, numbered from 1."""

    count: int

    def render(self, number: int, dpi: int) -> tuple[Image.Image, str | None]:
        """Page `number` as a grayscale image, and a warning if it was shrunk."""
        ...


class _PdfPages:
    """A PDF opened once; each page rendered on demand."""

    def __init__(self, content: bytes) -> None:
        with PDFIUM_LOCK:
            try:
                self._pdf = pdfium.PdfDocument(content)
            except pdfium.PdfiumError as exc:
                if exc.err_code == pdfium_c.FPDF_ERR_PASSWORD:
                    raise DocumentInvalid(
                        "encrypted_pdf",
                        "the PDF is encrypted or password-protected; upload an unprotected copy",
                    ) from exc
                raise DocumentInvalid("unreadable_pdf", f"the PDF is corrupt: {why(exc)}") from exc
            try:
                self._pdf.init_forms()  # filled-in form fields are drawn, and so read
                self.count = len(self._pdf)  # the page tree's count: no page is loaded
            except BaseException:
                self._pdf.close()
                raise

    def render(self, number: int, dpi: int) -> tuple[Image.Image, str | None]:
        """Render one page in grayscale at `dpi` (less if that would be too many pixels)."""
        with PDFIUM_LOCK:
            try:
                page = self._pdf[number - 1]
            except pdfium.PdfiumError as exc:
                raise DocumentInvalid(
                    "unreadable_pdf", f"page {number} of the PDF is corrupt: {why(exc)}"
                ) from exc
            try:
                return _render(page, number, dpi)
            finally:
                page.close()

    def close(self) -> None:
        """Free the document."""
        with PDFIUM_LOCK:
            self._pdf.close()


def _render(page: pdfium.PdfPage, number: int, dpi: int) -> tuple[Image.Image, str | None]:
    """Render under the caller's lock; the image is copied out of pdfium's buffer."""
    width, height = page.get_size()
    if not (width > 0 and height > 0 and math.isfinite(width * height)):
        raise DocumentInvalid("unreadable_pdf", f"page {number} of the PDF has no size")
    scale, note = dpi / 72, None
    if width * height * scale * scale > MAX_PIXELS:
        scale = math.sqrt(MAX_PIXELS / (width * height))
        note = f"page {number} is too large for {dpi} dpi: it was OCR'd at {scale * 72:.0f} dpi"
    try:
        bitmap = page.render(scale=scale, grayscale=True)
    except pdfium.PdfiumError as exc:
        raise DocumentInvalid(
            "unreadable_pdf", f"page {number} of the PDF could not be rendered: {why(exc)}"
        ) from exc
    try:
        # to_pil shares the bitmap's buffer, which close() frees: convert copies it.
        image = bitmap.to_pil().convert("L")
    finally:
        bitmap.close()
    image.info["dpi"] = (round(scale * 72),) * 2  # so Tesseract need not guess the size
    return image, note


class _ImageFrames:
    """A PNG or JPEG (one page) or a TIFF (one page per frame)."""

    def __init__(self, content: bytes) -> None:
        try:
            self._image = Image.open(io.BytesIO(content), formats=list(IMAGE_FORMATS))
            # TIFF walks its frame directory (cheap: no pixel is decoded)
            self.count = int(getattr(self._image, "n_frames", 1))
        except Image.DecompressionBombError as exc:
            raise DocumentInvalid("too_large", f"the image is too large: {exc}") from exc
        except MemoryError:
            raise
        except Exception as exc:  # Pillow raises many types on corrupt files
            raise DocumentInvalid("unreadable", f"the image is corrupt: {why(exc)}") from exc

    def render(self, number: int, dpi: int) -> tuple[Image.Image, str | None]:
        """Decode one frame, upright (EXIF orientation) and in grayscale; `dpi` is unused."""
        try:
            self._image.seek(number - 1)  # reads the frame's header, not its pixels
        except MemoryError:
            raise
        except Exception as exc:  # a broken frame directory
            raise DocumentInvalid(
                "unreadable", f"page {number} of the image is corrupt: {why(exc)}"
            ) from exc
        width, height = self._image.size
        if width * height > MAX_PIXELS:
            raise DocumentInvalid(
                "too_large",
                f"page {number} of the image is {width:,} x {height:,} pixels; "
                f"the limit is {MAX_PIXELS:,} pixels",
            )
        try:
            return ImageOps.exif_transpose(self._image).convert("L"), None
        except MemoryError:
            raise
        except Exception as exc:  # truncated data, bad compression...
            raise DocumentInvalid(
                "unreadable", f"page {number} of the image is corrupt: {why(exc)}"
            ) from exc

    def close(self) -> None:
        """Release the decoder."""
        self._image.close()


@contextmanager
def open_pages(content: bytes, kind: Literal["pdf", "image"]) -> Iterator[PageSource]:
    """Open a PDF or an image upload as pages; DocumentInvalid if it cannot be read."""
    source = _PdfPages(content) if kind == "pdf" else _ImageFrames(content)
    try:
        yield source
    finally:
        source.close()
