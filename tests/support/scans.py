"""Scanned documents made from known text: drawn by reportlab, rasterised by pdfium.

`scanned_pdf` pages are images only (no text layer), like a scanner's output, so only OCR
can read them; `text_pdf` is the same layout with a real text layer.
"""

from __future__ import annotations

import io
from typing import Literal

import pypdfium2 as pdfium
from PIL import Image
from pypdf import PdfReader, PdfWriter
from reportlab.lib.pagesizes import letter
from reportlab.lib.utils import simpleSplit
from reportlab.pdfgen import canvas

from tasks.documents.rasters import PDFIUM_LOCK

__all__ = ["repeated_pdf", "scanned_image", "scanned_pdf", "scanned_png", "text_pdf"]

FONT, SIZE, LEADING, MARGIN = "Helvetica", 13, 19, 72  # a readable 13 pt body text
DPI = 200


def text_pdf(pages: list[str]) -> bytes:
    """A letter-size PDF with a real text layer: one string per page, wrapped to the margins."""
    buf = io.BytesIO()
    pdf = canvas.Canvas(buf, pagesize=letter)
    width, height = letter
    for text in pages:
        pdf.setFont(FONT, SIZE)
        y = height - MARGIN
        for paragraph in text.split("\n"):
            for line in simpleSplit(paragraph, FONT, SIZE, width - 2 * MARGIN) or [""]:
                pdf.drawString(MARGIN, y, line)
                y -= LEADING
        pdf.showPage()
    pdf.save()
    return buf.getvalue()


def _page_images(pages: list[str], dpi: int) -> list[Image.Image]:
    """Each page of `text_pdf(pages)` as a grayscale image, as a scanner would see it."""
    with PDFIUM_LOCK:
        document = pdfium.PdfDocument(text_pdf(pages))
        try:
            images = []
            for index in range(len(document)):
                page = document[index]
                bitmap = page.render(scale=dpi / 72, grayscale=True)
                images.append(bitmap.to_pil().convert("L"))  # a copy: close() frees the bitmap
                bitmap.close()
                page.close()
        finally:
            document.close()
    return images


def scanned_pdf(pages: list[str], dpi: int = DPI) -> bytes:
    """An image-only PDF (one JPEG per page, no text layer) of `pages`."""
    images = _page_images(pages, dpi)
    buf = io.BytesIO()
    images[0].save(buf, "PDF", save_all=True, append_images=images[1:], resolution=dpi)
    return buf.getvalue()


def scanned_image(
    pages: list[str], image_format: Literal["PNG", "JPEG", "TIFF"], dpi: int = DPI
) -> bytes:
    """A scan as an image file: one page, or a multi-frame TIFF with one frame per page."""
    images = _page_images(pages, dpi)
    if len(images) > 1 and image_format != "TIFF":
        raise ValueError("only a TIFF holds more than one page")
    buf = io.BytesIO()
    if image_format == "TIFF":
        images[0].save(
            buf,
            "TIFF",
            save_all=True,
            append_images=images[1:],
            dpi=(dpi, dpi),
            compression="tiff_deflate",
        )
    else:
        images[0].save(buf, image_format, dpi=(dpi, dpi))
    return buf.getvalue()


def scanned_png(text: str, dpi: int = DPI) -> bytes:
    """A one-page scan of `text` as a PNG."""
    return scanned_image([text], "PNG", dpi)


def repeated_pdf(pdf: bytes, count: int) -> bytes:
    """`count` copies of a PDF's first page, sharing one image: a huge PDF built cheaply."""
    writer = PdfWriter()
    page = PdfReader(io.BytesIO(pdf)).pages[0]
    for _ in range(count):
        writer.add_page(page)
    buf = io.BytesIO()
    writer.write(buf)
    return buf.getvalue()
