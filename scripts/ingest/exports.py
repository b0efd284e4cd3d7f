"""`--out` files: NDJSON, CSV or a real XLSX workbook, one row per input; whole or absent.

CSV and XLSX share the columns: `FIXED`, then one per result field (`columns.py`). Any
other suffix is refused before anything is uploaded: an `.xlsx` never holds NDJSON. A
duplicate path's row carries no usage (its first path's row has the job's), so a column
sum counts every job once.
"""

from __future__ import annotations

import contextlib
import csv
import json
import tempfile
from collections.abc import Callable, Iterator
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from scripts.ingest.accounting import MISSING, SKIPPED, Entry
from scripts.ingest.base import SourceError, shown
from scripts.ingest.columns import Cell, Columns, cell
from scripts.ingest.xlsx import workbook

SUFFIXES = (".jsonl", ".ndjson", ".csv", ".xlsx")
FIXED = (
    "path", "status", "tier", "model", "cost_usd", "error_type", "error_message",
    "duplicate_of", "job_id", "key", "review_state", "confidence",
)  # fmt: skip
NO_USAGE = {"input_tokens": 0, "output_tokens": 0, "cost_usd": "0"}
# Spreadsheets run text starting with these as a formula (CSV injection): quote it.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


class ExportError(SourceError):
    """An --out file this command cannot write (checked before any upload)."""


def check_out_path(path: Path) -> None:
    """Refuse an --out file that could not be written, before anything is sent."""
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        named = suffix or "no extension"
        raise ExportError(
            f"--out {shown(path)}: write .jsonl, .ndjson, .csv or .xlsx (not {named})"
        )
    if suffix == ".xlsx":
        try:
            import openpyxl  # noqa: F401
        except ImportError:
            raise ExportError("--out .xlsx needs openpyxl (pip install openpyxl)") from None
    if not path.parent.is_dir():
        raise ExportError(f"--out {shown(path)}: the folder {shown(path.parent)} does not exist")
    if path.is_dir():
        raise ExportError(f"--out {shown(path)} is a folder")
    try:
        with tempfile.TemporaryFile(dir=path.parent):
            pass  # the folder takes a new file: the .part the results are written to
    except OSError as exc:
        why = exc.strerror or type(exc).__name__
        raise ExportError(
            f"--out {shown(path)}: cannot write in {shown(path.parent)}: {why}"
        ) from None


def own_files(path: Path) -> tuple[str, str]:
    """The files an --out writes: never inputs of the ingest, wherever they are."""
    return str(path), str(path.with_name(path.name + ".part"))


def export_row(
    row: dict[str, Any], *, path: str, state: str | None, duplicate_of: str | None
) -> dict[str, Any]:
    """A results line as an --out row: the server's fields plus where the input came from."""
    shared = {"usage": NO_USAGE} if duplicate_of is not None else {}
    return {**row, **shared, "path": path, "duplicate_of": duplicate_of, "input_state": state}


def unsent_row(entry: Entry) -> dict[str, Any]:
    """The row of an input that has no job: skipped (with its reason), or not found."""
    status = SKIPPED if entry.state == SKIPPED else MISSING
    message = entry.reason if entry.state == SKIPPED else "no batch holds a job for this key"
    return {
        "id": None,
        "key": entry.key,
        "filename": None,
        "status": status,
        "result": None,
        "error": {"type": status, "message": message},
        "metadata": {},
        "usage": None,
        "path": entry.path,
        "duplicate_of": entry.duplicate_of,
        "input_state": entry.state,
    }


def fixed_cells(row: dict[str, Any]) -> list[Cell]:
    """The `FIXED` columns of one --out row."""
    error = row.get("error") or {}
    cost = (row.get("usage") or {}).get("cost_usd")
    return [
        cell(row.get("path")),
        cell(row.get("status")),
        cell(row.get("tier")),
        cell(row.get("model")),
        _decimal(cost),
        cell(error.get("type")),
        cell(error.get("message")),
        cell(row.get("duplicate_of")),
        cell(row.get("id")),
        cell(row.get("key")),
        cell(row.get("review_state")),
        cell(row.get("confidence")),
    ]


def _decimal(value: Any) -> Cell:
    try:
        return None if value is None else Decimal(str(value))
    except InvalidOperation:
        return str(value)


class Writer:
    """Writes --out rows; counts them, and the XLSX cells cut to Excel's length limit."""

    def __init__(self, write: Callable[[dict[str, Any]], object]) -> None:
        self._write = write
        self.rows = 0
        self.truncated = 0

    def __call__(self, row: dict[str, Any]) -> None:
        """Write one row."""
        self._write(row)
        self.rows += 1


@contextlib.contextmanager
def writer(path: Path, columns: Columns) -> Iterator[Writer]:
    """Yield a Writer of --out rows; the file appears whole or not at all."""
    tmp = path.with_name(path.name + ".part")
    suffix = path.suffix.lower()
    header = [*FIXED, *columns.names]

    def cells(row: dict[str, Any]) -> list[Cell]:
        return [*fixed_cells(row), *columns.cells(row.get("result"))]

    try:
        if suffix == ".xlsx":
            with workbook(tmp, header) as book:
                out = Writer(lambda row: book.append(cells(row)))
                yield out
                out.truncated = book.truncated
        else:
            with tmp.open("w", newline="", encoding="utf-8") as fh:
                if suffix == ".csv":
                    table = csv.writer(fh)
                    table.writerow(header)
                    yield Writer(lambda row: table.writerow([_csv_text(v) for v in cells(row)]))
                else:
                    yield Writer(lambda row: fh.write(json.dumps(row, ensure_ascii=False) + "\n"))
        tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _csv_text(value: Cell) -> str:
    """A CSV cell: text that a spreadsheet would run as a formula gets a leading `'`.

    Numbers stay numbers (`-3` is not quoted); only text is, in CSV only (XLSX cells are
    typed: text there is never a formula).
    """
    if value is None:
        return ""
    if isinstance(value, str):
        return "'" + value if value.startswith(FORMULA_STARTS) else value
    if isinstance(value, Decimal):
        return format(value, "f")  # 0.0000001, not 1E-7
    return str(value)
