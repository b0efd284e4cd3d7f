"""Diff verbs: pair two batches' jobs by document, in keyset pages, for GET .../diff.

A job is paired with the job of the other batch that has the same document (sha256) and
the same occurrence number: a document sent k times is paired 1st with 1st, 2nd with 2nd,
in (created_at, id) order. A FULL OUTER JOIN keeps documents found in only one batch.
Jobs without a stored document (unreadable at submission) have nothing to pair by; they
come from `unreadable_jobs`.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import text
from sqlalchemy.orm import Session

from storage.models import Batch
from storage.rows import Cursor, owned

PairCursor = tuple[str, int]  # (document_sha256, occurrence) of the last row a page held
Side = Literal["batch", "against"]

# Each page reads whole documents up to a bound sha: the sha of the (2 * limit)-th job past
# the cursor, so the range holds at least `limit` pairs (a pair has at most two jobs). The
# bound is found in sha order on ix_jobs_tenant_document, so a page reads the sha range it
# covers, not both whole batches (measured: as fast on the last page as on the first); the
# tenant's other batches over the same documents are read and filtered in that range too.
# Occurrence numbers stay right: a document's jobs are all in the range or all outside it.
_PAIRS = """
WITH bound AS (
    SELECT max(sha) AS sha FROM (
        SELECT document_sha256 AS sha FROM jobs
        WHERE tenant_id = :tenant_id AND batch_id IN (:batch_id, :against_id)
          AND document_sha256 IS NOT NULL {after_bound}
        ORDER BY document_sha256
        LIMIT :span
    ) AS first_jobs
), mine AS (
    SELECT id, document_sha256 AS sha, filename, status, result,
        row_number() OVER (PARTITION BY document_sha256 ORDER BY created_at, id) AS occ
    FROM jobs
    WHERE tenant_id = :tenant_id AND batch_id = :batch_id {in_range}
), theirs AS (
    SELECT id, document_sha256 AS sha, filename, status, result,
        row_number() OVER (PARTITION BY document_sha256 ORDER BY created_at, id) AS occ
    FROM jobs
    WHERE tenant_id = :tenant_id AND batch_id = :against_id {in_range}
)
SELECT coalesce(m.sha, t.sha) AS sha, coalesce(m.occ, t.occ) AS occ,
    m.id, m.filename, m.status, m.result, t.id, t.filename, t.status, t.result
FROM mine AS m FULL OUTER JOIN theirs AS t ON m.sha = t.sha AND m.occ = t.occ
{after_pair}
ORDER BY 1, 2
LIMIT :limit
"""
# Two fixed statements rather than `:after IS NULL OR ...`, whose generic plan (psycopg
# prepares a statement on its 5th run) could not use the sha index on either branch.
_FIRST_PAGE = text(
    _PAIRS.format(
        after_bound="",
        in_range="AND document_sha256 <= (SELECT sha FROM bound)",
        after_pair="",
    )
)
_NEXT_PAGE = text(
    _PAIRS.format(
        after_bound="AND document_sha256 > :after_sha",
        # a page with nothing past the cursor's document still finishes that document
        in_range="AND document_sha256 >= :after_sha"
        " AND document_sha256 <= coalesce((SELECT sha FROM bound), :after_sha)",
        after_pair="WHERE (coalesce(m.sha, t.sha), coalesce(m.occ, t.occ))"
        " > (:after_sha, :after_occ)",
    )
)
_UNREADABLE = """
SELECT id, batch_id, filename, status, created_at FROM jobs
WHERE tenant_id = :tenant_id AND batch_id IN (:batch_id, :against_id)
  AND document_sha256 IS NULL {after}
ORDER BY created_at, id
LIMIT :limit
"""
_UNREADABLE_FIRST = text(_UNREADABLE.format(after=""))
_UNREADABLE_NEXT = text(
    _UNREADABLE.format(after="AND (created_at, id) > (:after_created, :after_id)")
)


@dataclass(frozen=True, slots=True)
class PairedJob:
    """One side of a pair: what the diff shows of a job."""

    job_id: uuid.UUID
    filename: str | None
    status: str
    result: dict[str, Any] | None


@dataclass(frozen=True, slots=True)
class PairRow:
    """A document occurrence: this batch's job and the `against` batch's (None if absent)."""

    document_sha256: str
    occurrence: int
    job: PairedJob | None
    against: PairedJob | None

    @property
    def cursor(self) -> PairCursor:
        """The keyset cursor that pages past this row."""
        return self.document_sha256, self.occurrence


@dataclass(frozen=True, slots=True)
class LoneJob:
    """A job of either batch without a stored document: never paired."""

    job_id: uuid.UUID
    side: Side
    filename: str | None
    status: str
    created_at: dt.datetime

    @property
    def cursor(self) -> Cursor:
        """The keyset cursor that pages past this job."""
        return self.created_at, self.job_id


def check_pair(
    *, session: Session, tenant_id: uuid.UUID, batch_id: uuid.UUID, against_id: uuid.UUID
) -> None:
    """Raise NotFound unless both batches are the tenant's."""
    for ident in (batch_id, against_id):
        owned(session=session, model=Batch, tenant_id=tenant_id, ident=ident, what="batch")


def paired_results(
    *,
    session: Session,
    tenant_id: uuid.UUID,
    batch_id: uuid.UUID,
    against_id: uuid.UUID,
    after: PairCursor | None = None,
    limit: int,
) -> list[PairRow]:
    """The next `limit` document occurrences of the two batches in (sha256, occurrence) order.

    Fewer than `limit` rows means the last page. Either batch not the tenant's is NotFound.
    """
    check_pair(session=session, tenant_id=tenant_id, batch_id=batch_id, against_id=against_id)
    params: dict[str, Any] = {
        "tenant_id": tenant_id,
        "batch_id": batch_id,
        "against_id": against_id,
        "span": 2 * limit,
        "limit": limit,
    }
    stmt = _FIRST_PAGE
    if after is not None:
        stmt = _NEXT_PAGE
        params |= {"after_sha": after[0], "after_occ": after[1]}
    return [_pair(row) for row in session.execute(stmt, params)]


def unreadable_jobs(
    *,
    session: Session,
    tenant_id: uuid.UUID,
    batch_id: uuid.UUID,
    against_id: uuid.UUID,
    after: Cursor | None = None,
    limit: int,
) -> list[LoneJob]:
    """The next `limit` jobs of either batch that have no stored document, oldest first."""
    check_pair(session=session, tenant_id=tenant_id, batch_id=batch_id, against_id=against_id)
    params: dict[str, Any] = {
        "tenant_id": tenant_id,
        "batch_id": batch_id,
        "against_id": against_id,
        "limit": limit,
    }
    stmt = _UNREADABLE_FIRST
    if after is not None:
        stmt = _UNREADABLE_NEXT
        params |= {"after_created": after[0], "after_id": after[1]}
    rows = session.execute(stmt, params)
    return [
        LoneJob(job_id, "batch" if owner == batch_id else "against", filename, status, created)
        for job_id, owner, filename, status, created in rows
    ]


def _side(job_id: uuid.UUID | None, *fields: Any) -> PairedJob | None:
    return None if job_id is None else PairedJob(job_id, *fields)


def _pair(row: Any) -> PairRow:
    sha, occ, m_id, m_file, m_status, m_result, t_id, t_file, t_status, t_result = row
    return PairRow(
        document_sha256=sha,
        occurrence=int(occ),
        job=_side(m_id, m_file, m_status, m_result),
        against=_side(t_id, t_file, t_status, t_result),
    )
