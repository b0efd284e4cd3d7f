"""A batch's results as a stream: NDJSON lines (the API and the console) or CSV (the console).

Each keyset page is read in its own short transaction, so a slow reader never holds a
connection idle in a transaction.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from typing import Any

from api.views.batches import result_line
from schemas.trust.fields import leaves
from storage import results
from storage.db import session_scope
from storage.models import Batch
from storage.results import JobResult
from storage.rows import Cursor

RESULT_PAGE = 1000
CSV_COLUMNS = (
    "id", "key", "filename", "status", "review_state", "confidence", "error_type",
    "error_message", "cost_usd",
)  # fmt: skip
# A spreadsheet runs a cell that starts with one of these as a formula (CSV injection).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def result_pages(batch: Batch) -> Iterator[list[JobResult]]:
    """Keyset pages of RESULT_PAGE results, in (created_at, id) order."""
    after: Cursor | None = None
    while True:
        with session_scope() as session:
            rows = results.result_page(session=session, batch=batch, after=after, limit=RESULT_PAGE)
        if rows:
            yield rows
        if len(rows) < RESULT_PAGE:
            return
        after = rows[-1].cursor


def ndjson_lines(batch: Batch) -> Iterator[bytes]:
    """One NDJSON line per job (GET /v1/batches/{id}/results)."""
    for rows in result_pages(batch):
        yield b"".join(result_line(r) for r in rows)


def _cell(value: Any) -> Any:
    if isinstance(value, (dict, list)):
        value = json.dumps(value, ensure_ascii=False)
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value  # shown as text, never evaluated
    return value


def csv_lines(batch: Batch) -> Iterator[bytes]:
    """A header, then one row per job: the fixed columns, then one column per result field.

    Two passes over the pages: the first collects every field's JSON Pointer (first-seen
    order), so each row lines up with the header however the results differ.
    """
    pointers: dict[str, None] = {}
    for rows in result_pages(batch):
        for row in rows:
            pointers.update((p, None) for p, _ in leaves(row.result or {}) if p)
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow([*CSV_COLUMNS, *pointers])
    for rows in result_pages(batch):
        for row in rows:
            values = dict(leaves(row.result or {}))
            fixed = (
                row.id, row.idempotency_key, row.filename, row.status, row.review_state,
                row.confidence, row.error_type, row.error_message, row.cost_usd,
            )  # fmt: skip
            writer.writerow([_cell(v) for v in (*fixed, *(values.get(p) for p in pointers))])
        yield buf.getvalue().encode()
        buf.seek(0)
        buf.truncate()
    if buf.tell():
        yield buf.getvalue().encode()
