"""Image uploads by their magic bytes: the PNG, JPEG and TIFF scans that OCR reads.

Kept free of Pillow so that sniffing an upload in the API costs a prefix comparison.
"""

from __future__ import annotations

from typing import Literal

__all__ = ["IMAGE_EXTENSIONS", "IMAGE_FORMATS", "ImageFormat", "image_format"]

ImageFormat = Literal["PNG", "JPEG", "TIFF"]

IMAGE_FORMATS: tuple[ImageFormat, ...] = ("PNG", "JPEG", "TIFF")  # Pillow's format names
IMAGE_EXTENSIONS = frozenset({"png", "jpg", "jpeg", "jpe", "tif", "tiff"})
_MAGIC: tuple[tuple[bytes, ImageFormat], ...] = (
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"\xff\xd8\xff", "JPEG"),
    (b"II*\x00", "TIFF"),  # little-endian
    (b"MM\x00*", "TIFF"),  # big-endian
)


def image_format(content: bytes) -> ImageFormat | None:
    """The format of an image upload by its first bytes, or None if it is not one."""
    for magic, name in _MAGIC:
        if content.startswith(magic):
            return name
    return None
