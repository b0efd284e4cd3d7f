"""Hand-built PDFs: numbered objects serialised by hand; hostile ones expand a billion-fold."""

from __future__ import annotations

import io

FONT = b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"
_TEXT = b"BT /F1 12 Tf 72 720 Td (lol) Tj ET"


def stream(head: bytes, data: bytes) -> bytes:
    """A stream object body: its dictionary entries `head`, then the data."""
    return b"<< " + head + b" /Length %d >>\nstream\n" % len(data) + data + b"\nendstream"


def pdf_from_objects(objects: dict[int, bytes]) -> bytes:
    """Serialise numbered objects with a correct cross-reference table."""
    out = io.BytesIO()
    out.write(b"%PDF-1.7\n")
    offsets: dict[int, int] = {}
    for num in sorted(objects):
        offsets[num] = out.tell()
        out.write(b"%d 0 obj\n" % num + objects[num] + b"\nendobj\n")
    xref, size = out.tell(), max(objects) + 1
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % size)
    for num in range(1, size):
        free = b"0000000000 65535 f \n"
        out.write(b"%010d 00000 n \n" % offsets[num] if num in offsets else free)
    out.write(b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (size, xref))
    return out.getvalue()


def billion_laughs_pdf(*, depth: int = 9, fan: int = 10) -> bytes:
    """One page drawing a form XObject that draws the next level `fan` times: fan**depth."""
    objects = {
        1: b"<< /Type /Catalog /Pages 2 0 R >>",
        2: b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        3: b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
        b"/Resources << /XObject << /X 10 0 R >> /Font << /F1 5 0 R >> >> /Contents 4 0 R >>",
        4: stream(b"", b"q /X Do Q"),
        5: FONT,
    }
    for level in range(depth):
        last = level + 1 == depth
        xobject = b"" if last else b"/XObject << /X %d 0 R >> " % (11 + level)
        body = _TEXT if last else b" ".join([b"/X Do"] * fan)
        head = b"/Type /XObject /Subtype /Form /BBox [0 0 612 792] /Resources << "
        objects[10 + level] = stream(head + xobject + b"/Font << /F1 5 0 R >> >>", body)
    return pdf_from_objects(objects)


def page_tree_bomb_pdf(*, depth: int = 9, fan: int = 10) -> bytes:
    """A page tree whose every node lists the next one `fan` times: fan**depth pages."""
    leaf = 10 + depth
    objects = {1: b"<< /Type /Catalog /Pages 10 0 R >>", 4: stream(b"", _TEXT), 5: FONT}
    for level in range(depth):
        kids = b" ".join([b"%d 0 R" % (11 + level)] * fan)
        count = fan ** (depth - level)
        objects[10 + level] = b"<< /Type /Pages /Kids [" + kids + b"] /Count %d >>" % count
    objects[leaf] = (
        b"<< /Type /Page /Parent %d 0 R /MediaBox [0 0 612 792] " % (leaf - 1)
        + b"/Resources << /Font << /F1 5 0 R >> >> /Contents 4 0 R >>"
    )
    return pdf_from_objects(objects)
