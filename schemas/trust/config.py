"""The `[trust]` and `[ocr]` tables of the TOML: review thresholds, quote matching, OCR limits."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

Verify = Literal["none", "self_consistency"]
OnMismatch = Literal["fail", "review"]


class TrustConfig(BaseModel):
    """How evidence is matched and which results go to review."""

    # A job with any field below this confidence goes to review (tenants and extractors
    # may set their own).
    review_threshold: float = Field(default=0.6, ge=0, le=1)
    # rapidfuzz partial_ratio (0-100) a quote must reach in the document to count as found
    quote_min_score: float = Field(default=88.0, ge=50, le=100)
    # ... and a string value must reach inside the document span its quote matched
    value_min_score: float = Field(default=85.0, ge=50, le=100)
    verify: Verify = "none"  # extractors and jobs may ask for "self_consistency"
    on_mismatch: OnMismatch = "fail"  # a document the schema does not describe: fail or review
    max_quote_chars: int = Field(default=1000, gt=0)
    # An enveloped answer carries a path and a quote per leaf besides the data: its output
    # cap (and the budget hold) is the tier's max_output_tokens times this.
    evidence_output_factor: float = Field(default=2.0, ge=1, le=8)


class OcrConfig(BaseModel):
    """Limits for OCR of scanned pages and images (Tesseract)."""

    max_pages: int = Field(default=50, gt=0)  # pages OCR'd per document at most
    time_limit_s: float = Field(default=180.0, gt=0)  # one document's OCR, all pages
    # Past `max_pages` or the time limit: "cut" keeps the pages done and warns on the job,
    # "fail" ends the job `document_invalid`.
    on_limit: Literal["cut", "fail"] = "cut"
    dpi: int = Field(default=200, ge=72, le=600)
    languages: str = "eng"  # tesseract -l
    memory_bytes: int = Field(default=1024 * 1024 * 1024, ge=128 * 1024 * 1024)
    max_source_bytes: int = Field(default=64 * 1024 * 1024, gt=0)  # stored for the worker
