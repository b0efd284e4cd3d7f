"""Per-field verdicts (what the API and exports show) and the walk over a result's leaves."""

from __future__ import annotations

from collections.abc import Iterator
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, Field

__all__ = [
    "FieldOut",
    "ReviewState",
    "Support",
    "escape",
    "leaves",
    "pointer",
    "unescape",
]

# verified: the quote is in the document and holds the value; fuzzy: the same, through OCR
# noise or small differences; unsupported: no quote, a quote not in the document, or a
# value its quote does not hold; absent: the value is null (nothing to support).
Support = Literal["verified", "fuzzy", "unsupported", "absent"]


class ReviewState(StrEnum):
    """Where a succeeded job stands in review (failed jobs have none)."""

    NOT_NEEDED = "not_needed"
    PENDING = "pending"
    APPROVED = "approved"
    CORRECTED = "corrected"


class FieldOut(BaseModel):
    """One leaf of a result with its evidence and confidence."""

    path: str  # JSON Pointer into `result`
    value: Any
    quote: str | None = None  # what the model quoted
    support: Support
    start: int | None = None  # character offsets of the matched text in the document
    end: int | None = None
    page: int | None = None  # 1-based page of `start` (PDFs and multi-page scans)
    confidence: float = Field(ge=0, le=1)
    signals: dict[str, float] = Field(default_factory=dict)  # what the confidence used


def escape(segment: str) -> str:
    """One JSON Pointer segment (RFC 6901: ~ then /)."""
    return segment.replace("~", "~0").replace("/", "~1")


def unescape(segment: str) -> str:
    """The key a JSON Pointer segment names."""
    return segment.replace("~1", "/").replace("~0", "~")


def pointer(parts: tuple[str | int, ...]) -> str:
    """The JSON Pointer of a path of keys and indices ("" for the root)."""
    return "".join(f"/{escape(str(p))}" for p in parts)


def leaves(value: Any, parts: tuple[str | int, ...] = ()) -> Iterator[tuple[str, Any]]:
    """Every scalar leaf of a JSON value as (pointer, value), nulls and list items included.

    An empty list or object is one leaf (its value is the empty container): a field the
    model left empty still gets a verdict.
    """
    if isinstance(value, dict) and value:
        for key, item in value.items():
            yield from leaves(item, (*parts, key))
    elif isinstance(value, list) and value:
        for index, item in enumerate(value):
            yield from leaves(item, (*parts, index))
    else:
        yield pointer(parts), value
