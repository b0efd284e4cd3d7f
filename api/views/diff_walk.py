"""A diff of two batches walked page by page: GET /v1/batches/{id}/diff and the console.

The jobs of the two batches are paired by document (storage.diffs); each keyset page is
read in its own short session, so a long diff never holds a connection.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

import structlog
from sqlalchemy.exc import SQLAlchemyError

from api.views.diff import DiffSummary, lone_line, ndjson, pair_line
from storage import diffs
from storage.db import session_scope
from storage.diffs import LoneJob, PairRow
from storage.retrying import retry_transient

log = structlog.get_logger(__name__)

DIFF_PAGE = 1000  # document occurrences per keyset page (and per streamed chunk)
T = TypeVar("T")


def first_page(
    session: Any, *, tenant_id: uuid.UUID, batch_id: uuid.UUID, against: uuid.UUID
) -> list[PairRow]:
    """The first page, read by the request itself so a 404 comes before any stream."""
    return diffs.paired_results(
        session=session, tenant_id=tenant_id, batch_id=batch_id, against_id=against, limit=DIFF_PAGE
    )


@dataclass
class DiffWalk:
    """One diff being walked: keyset pages, each read in its own short session."""

    tenant_id: uuid.UUID
    batch_id: uuid.UUID
    against: uuid.UUID
    first: list[PairRow]  # read by the request itself, so a 404 comes before the stream
    summary: DiffSummary = field(default_factory=DiffSummary)

    def _read(self, verb: Callable[..., list[T]], after: Any) -> list[T]:
        def page() -> list[T]:
            # autocommit: one statement at a time, the connection back in the pool at once
            with session_scope(autocommit=True) as session:
                return verb(
                    session=session,
                    tenant_id=self.tenant_id,
                    batch_id=self.batch_id,
                    against_id=self.against,
                    after=after,
                    limit=DIFF_PAGE,
                )

        return retry_transient("batch_diff_page", page)  # a read is safe to repeat

    def _pairs(self) -> Iterator[list[PairRow]]:
        rows = self.first
        while True:
            yield rows
            if len(rows) < DIFF_PAGE:
                return
            rows = self._read(diffs.paired_results, rows[-1].cursor)

    def _lone(self) -> Iterator[list[LoneJob]]:
        rows: list[LoneJob] = self._read(diffs.unreadable_jobs, None)
        while True:
            yield rows
            if len(rows) < DIFF_PAGE:
                return
            rows = self._read(diffs.unreadable_jobs, rows[-1].cursor)

    def pages(self) -> Iterator[list[dict[str, Any]]]:
        """The lines of each page (documents without changes left out), counted as they go."""
        for pairs in self._pairs():
            lines = (pair_line(row, self.summary) for row in pairs)
            yield [line for line in lines if line is not None]
        for lone in self._lone():
            yield [lone_line(job, self.summary) for job in lone]

    def summary_line(self) -> dict[str, Any]:
        """The summary of what the pages held."""
        return self.summary.line(batch_id=self.batch_id, against=self.against)

    def stream(self) -> Iterator[bytes]:
        """NDJSON: one chunk per page, then the summary line (or an error line if cut short)."""
        try:
            for lines in self.pages():
                if lines:
                    yield b"".join(ndjson(line) for line in lines)
        except SQLAlchemyError as exc:
            # The 200 is sent: a last line saying why, rather than a stream that just stops.
            log.error("batch_diff_failed", error_class=type(exc).__name__)  # noqa: TRY400
            message = "the database stopped answering; the diff is incomplete"
            yield ndjson({"type": "error", "error": {"type": "unavailable", "message": message}})
            return
        yield ndjson(self.summary_line())
