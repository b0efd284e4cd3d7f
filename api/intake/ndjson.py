"""An NDJSON batch upload, read as it streams: validate each line, store in bounded chunks.

Memory is bounded in bytes: documents are stored (and committed) once the buffered lines
pass `limits.ndjson_buffer_bytes` or CHUNK_ROWS documents, and a line over the document
limit is discarded as it streams past, never buffered whole. Each line is validated before
anything is stored, so a bad line is a rejection with its number, not a failed request.

Once a chunk is committed the answer always says what was applied: if storing a later chunk
fails, the upload stops there and the 202 reports the committed counts, `complete: false`,
the first line not stored and why, instead of a 5xx that would hide stored, billable jobs.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Protocol

import anyio.to_thread
import structlog
from pydantic import ValidationError

from api.errors import ApiError
from api.intake.batch import CHUNK_ROWS, Tally, ndjson_lines
from api.views.batches import validation_reason
from schemas.api import ErrorInfo
from schemas.batch_api import BatchDocument, BatchHeader, RejectedLine
from schemas.config import Limits

log = structlog.get_logger(__name__)

MAX_REJECTED_SHOWN = 100
_VALIDATE_IN_THREAD = 1024 * 1024  # longer lines are validated off the event loop


class Sink(Protocol):
    """Where an upload's documents go: the batch, one committed chunk at a time."""

    def begin(self, header: BatchHeader) -> None:
        """Check the header line (may raise ApiError: nothing is stored yet)."""

    def store(self, docs: list[BatchDocument]) -> Tally:
        """Insert and commit one chunk, or roll it back and raise."""


@dataclass
class Outcome:
    """What an upload applied: committed counts, rejected lines, and where it stopped."""

    tally: Tally = field(default_factory=Tally)
    rejected: int = 0
    rejected_lines: list[RejectedLine] = field(default_factory=list)
    chunks: int = 0  # committed chunks
    stopped_at_line: int | None = None
    error: ErrorInfo | None = None

    def reject(self, line: int, message: str) -> None:
        """Count a line that is not a storable document (nothing was stored for it)."""
        self.rejected += 1
        if len(self.rejected_lines) < MAX_REJECTED_SHOWN:
            self.rejected_lines.append(RejectedLine(line=line, message=message))


def line_limit(limits: Limits) -> int:
    """The longest line a document may take: base64 of the largest document, plus metadata."""
    return limits.max_document_bytes * 4 // 3 + 1024 * 1024


class NdjsonUpload:
    """Read one upload into `sink`; `read` returns the Outcome."""

    def __init__(self, *, sink: Sink, limits: Limits) -> None:
        self.sink, self.limits = sink, limits
        self.outcome = Outcome()
        self._pending: list[BatchDocument] = []
        self._pending_bytes = 0
        self._first_pending: int | None = None  # line number of the first unstored document
        self._line = 0  # the line being read

    async def read(self, chunks: AsyncIterator[bytes]) -> Outcome:
        """Read every line (or up to a failure after a commit) and store the documents."""
        try:
            await self._read(chunks)
        except Exception as exc:
            if not self.outcome.chunks:
                raise  # nothing stored: the error (4xx, or "not applied") is the whole truth
            # the class only: a driver's message may quote document values
            name = type(exc).__name__
            log.error("ndjson_upload_stopped", error_class=name, line=self._line)  # noqa: TRY400
            why = exc.message if isinstance(exc, ApiError) else f"storing failed ({name})"
            self._stop(why)
        return self.outcome

    async def _read(self, chunks: AsyncIterator[bytes]) -> None:
        header_read = False
        limit = line_limit(self.limits)
        async for number, line in ndjson_lines(chunks, max_line_bytes=limit):
            self._line = number
            if line is not None and (not line or line.isspace()):  # strip() would copy it
                continue  # blank lines (a trailing newline) are not documents
            if not header_read:
                await anyio.to_thread.run_sync(self.sink.begin, _header(number, line))
                header_read = True
                continue
            if line is None:
                self.outcome.reject(number, f"the line is over {limit} bytes; it was not read")
                continue
            try:
                doc = await _document(line)
            except ValidationError as exc:
                self.outcome.reject(number, validation_reason(exc))
                continue
            self._buffer(number, doc, len(line))
            if (
                len(self._pending) >= CHUNK_ROWS
                or self._pending_bytes >= self.limits.ndjson_buffer_bytes
            ):
                await self._flush()
        if not header_read:
            raise ApiError(422, "invalid_request", "line 1: the header line is missing")
        if self._pending:
            await self._flush()

    def _buffer(self, number: int, doc: BatchDocument, size: int) -> None:
        if self._first_pending is None:
            self._first_pending = number
        self._pending.append(doc)
        self._pending_bytes += size

    async def _flush(self) -> None:
        docs, self._pending, self._pending_bytes = self._pending, [], 0
        added = await anyio.to_thread.run_sync(self.sink.store, docs)
        self._first_pending = None  # committed: nothing before the next line is unstored
        self.outcome.tally.add(added)
        self.outcome.chunks += 1

    def _stop(self, why: str) -> None:
        first = self._first_pending if self._first_pending is not None else self._line
        self.outcome.stopped_at_line = first
        self.outcome.error = ErrorInfo(
            type="upload_interrupted",
            message=f"{why}: the documents before line {first} are stored as reported; nothing "
            f"from line {first} on was stored. Send those lines again (with the same "
            "Idempotency-Key to add them to this batch).",
        )


def _header(number: int, line: bytes | None) -> BatchHeader:
    try:
        return BatchHeader.model_validate_json(line or b"")
    except ValidationError as exc:
        raise ApiError(422, "invalid_request", f"line {number}: {validation_reason(exc)}") from exc


async def _document(line: bytes) -> BatchDocument:
    """Validate one line; a long one in a thread, so the event loop keeps serving."""
    if len(line) < _VALIDATE_IN_THREAD:
        return BatchDocument.model_validate_json(line)
    return await anyio.to_thread.run_sync(BatchDocument.model_validate_json, line)
