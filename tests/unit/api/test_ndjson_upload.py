"""NDJSON uploads: per-line rejections, chunks bounded in bytes, honest answers after a commit."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from api.errors import ApiError
from api.intake.batch import CHUNK_ROWS, Tally
from api.intake.ndjson import NdjsonUpload, Outcome, line_limit
from schemas.batch_api import BatchDocument, BatchHeader
from schemas.config import Limits

MIB = 1024 * 1024
HEADER = {"schema": "document_summary", "tier": "low"}


class Sink:
    """Stores nothing; remembers each chunk, and can fail on the n-th one."""

    def __init__(self, *, fail_on: int | None = None) -> None:
        self.fail_on = fail_on
        self.header: BatchHeader | None = None
        self.chunks: list[list[BatchDocument]] = []

    def begin(self, header: BatchHeader) -> None:
        """Remember the header."""
        self.header = header

    def store(self, docs: list[BatchDocument]) -> Tally:
        """Count a chunk as committed, or fail as a lost database would."""
        if self.fail_on is not None and len(self.chunks) + 1 == self.fail_on:
            raise ConnectionError("the database went away")
        self.chunks.append(docs)
        return Tally(created=len(docs))


def limits(**kw: Any) -> Limits:
    """Small limits for the tests."""
    base = {"max_document_bytes": MIB, "max_text_chars": 10 * MIB, "max_request_bytes": MIB}
    return Limits.model_validate({**base, **kw})


def body(*lines: Any) -> bytes:
    """An NDJSON body: the header line, then each line (dicts as JSON, bytes as they are)."""
    out = [json.dumps(HEADER).encode()]
    out += [line if isinstance(line, bytes) else json.dumps(line).encode() for line in lines]
    return b"\n".join(out) + b"\n"


async def _pieces(data: bytes, size: int) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


def upload(sink: Sink, data: bytes, lim: Limits | None = None, piece: int = 65536) -> Outcome:
    """Run one upload of `data`, streamed in pieces of `piece` bytes."""
    reader = NdjsonUpload(sink=sink, limits=lim or limits())
    return asyncio.run(reader.read(_pieces(data, piece)))


def test_unstorable_lines_are_rejected_with_their_line_numbers_and_the_rest_are_stored() -> None:
    memo = {"text": "A memo."}
    lines: list[Any] = [memo] * 599
    lines += [{"text": "x", "metadata": {"n": 1e999}}, b'{"text": "raw \x00 NUL"}', memo]
    sink = Sink()
    outcome = upload(sink, body(*lines))
    assert [r.line for r in outcome.rejected_lines] == [601, 602]
    assert "finite" in outcome.rejected_lines[0].message
    assert outcome.rejected == 2
    assert outcome.tally.created == 600 == sum(len(c) for c in sink.chunks)
    assert (outcome.stopped_at_line, outcome.error) == (None, None)


def test_a_failure_after_a_commit_answers_with_exactly_what_was_stored() -> None:
    lines = [{"text": f"Memo {n}."} for n in range(CHUNK_ROWS + 50)]
    sink = Sink(fail_on=2)
    outcome = upload(sink, body(*lines))
    assert outcome.chunks == 1
    assert outcome.tally.created == CHUNK_ROWS == len(sink.chunks[0])
    first_unstored = CHUNK_ROWS + 2  # line 1 is the header
    assert outcome.stopped_at_line == first_unstored
    assert outcome.error is not None
    assert outcome.error.type == "upload_interrupted"
    assert f"nothing from line {first_unstored} on was stored" in outcome.error.message
    assert "ConnectionError" in outcome.error.message
    assert "database went away" not in outcome.error.message  # no driver text in answers


def test_a_failure_before_any_commit_is_raised_because_nothing_was_applied() -> None:
    with pytest.raises(ConnectionError):
        upload(Sink(fail_on=1), body({"text": "A memo."}))


def test_buffered_documents_are_stored_once_they_pass_the_byte_budget() -> None:
    line = {"text": "y" * (3 * MIB)}
    sink = Sink()
    lim = limits(max_document_bytes=8 * MIB, ndjson_buffer_bytes=8 * MIB)
    outcome = upload(sink, body(*[line] * 10), lim)
    assert outcome.tally.created == 10
    sizes = [sum(len(d.text or "") for d in chunk) for chunk in sink.chunks]
    assert sizes == [9 * MIB, 9 * MIB, 9 * MIB, 3 * MIB]  # never a chunk past budget + one line


def test_a_line_over_the_document_limit_is_rejected_and_its_neighbours_are_stored() -> None:
    lim = limits(max_document_bytes=64 * 1024)
    too_long = {"text": "z" * (line_limit(lim) + 10)}
    sink = Sink()
    outcome = upload(sink, body({"text": "before"}, too_long, {"text": "after"}), lim)
    assert [(r.line, r.message) for r in outcome.rejected_lines] == [
        (3, f"the line is over {line_limit(lim)} bytes; it was not read")
    ]
    assert [d.text for c in sink.chunks for d in c] == ["before", "after"]


def test_a_missing_or_invalid_header_is_a_422_before_anything_is_stored() -> None:
    with pytest.raises(ApiError) as info:
        upload(Sink(), b'{"text": "no header"}\n')
    assert info.value.status == 422
    assert info.value.message.startswith("line 1:")
