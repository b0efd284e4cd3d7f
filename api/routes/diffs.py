"""GET /v1/batches/{id}/diff?against={other}: what changed between two runs of the same documents.

A rerun makes a new batch over the same stored documents with another extractor version;
this diff pairs the two batches' jobs by document and reports, per field, what changed.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal, TypeVar

import structlog
from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse, StreamingResponse
from sqlalchemy.exc import SQLAlchemyError

from api.deps import ReadSessionDep, ReadTenantDep
from api.errors import ApiError
from api.views.diff import DiffSummary, lone_line, ndjson, pair_line
from storage import diffs
from storage.db import session_scope
from storage.diffs import LoneJob, PairRow
from storage.retrying import retry_transient

router = APIRouter(prefix="/v1/batches", tags=["batches"])
log = structlog.get_logger(__name__)

DIFF_PAGE = 1000  # document occurrences per keyset page (and per streamed chunk)
T = TypeVar("T")
Format = Literal["ndjson", "summary"]


@dataclass
class _Diff:
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


@router.get(
    "/{batch_id}/diff",
    response_model=None,
    responses={200: {"content": {"application/x-ndjson": {}, "application/json": {}}}},
)
def batch_diff(
    batch_id: uuid.UUID,
    against: uuid.UUID,
    session: ReadSessionDep,
    tenant: ReadTenantDep,
    format_: Annotated[Format, Query(alias="format")] = "ndjson",
) -> StreamingResponse | JSONResponse:
    """What changed from batch `against` to this one, per document and per field.

    Jobs are paired by document (sha256), a document sent several times by occurrence
    order. NDJSON (default): a `document` line per pair with changes (`before` is the
    `against` batch's value, `after` this batch's; `added` means only this batch's result
    has the field) or with a job that has not succeeded (its `status`, `against_status`);
    an `unmatched` line per document in one batch only; a final `summary` line.
    `format=summary` answers with the summary alone.
    """
    if against == batch_id:
        raise ApiError(422, "invalid_request", "against: name another batch than this one")
    first = diffs.paired_results(
        session=session, tenant_id=tenant.id, batch_id=batch_id, against_id=against, limit=DIFF_PAGE
    )
    diff = _Diff(tenant_id=tenant.id, batch_id=batch_id, against=against, first=first)
    session.commit()  # the pages use their own sessions: hold no connection while streaming
    if format_ == "ndjson":
        return StreamingResponse(diff.stream(), media_type="application/x-ndjson")
    try:
        for _ in diff.pages():
            pass
    except SQLAlchemyError as exc:
        log.error("batch_diff_failed", error_class=type(exc).__name__)  # noqa: TRY400
        raise ApiError(503, "unavailable", "the database stopped answering; try again") from exc
    return JSONResponse(diff.summary_line())
