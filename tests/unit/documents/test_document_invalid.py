"""DocumentInvalid itself, and that no other exception escapes the parser on mangled files."""

from __future__ import annotations

import pickle
import random

from tasks.documents.errors import DocumentInvalid
from tasks.documents.parse import ParsedDocument, extract_text
from tests.unit.documents.uploads import BIG, make_docx, make_pdf


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
        assert result.text.strip() or result.ocr_pages  # text, or pages the worker OCRs
