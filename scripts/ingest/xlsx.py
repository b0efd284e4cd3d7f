"""A write-only XLSX workbook within Excel's limits: cell length, number precision, rows.

openpyxl writes what it is given, and Excel then cuts, rounds or refuses it: a cell holds
at most 32,767 characters (longer text is cut here, visibly, and counted), numbers have
15 significant digits (larger integers are written as text, exactly), and a sheet holds
1,048,576 rows (more go on to a next sheet, `results 2`, with the header again).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from scripts.ingest.columns import Cell

MAX_CELL_CHARS = 32_767
MAX_ROWS = 1_048_576  # a sheet's rows, its header included
EXACT_BELOW = 10**15  # integers Excel's doubles keep to the digit
TRUNCATED = "…[truncated]"
SHEET = "results"


class Book:
    """The sheets being written; `append` one row at a time."""

    def __init__(self, book: Any, header: list[str]) -> None:
        from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

        self._book, self._header, self._illegal = book, header, ILLEGAL_CHARACTERS_RE
        self._sheets: list[Any] = []
        self._rows = 0
        self.truncated = 0
        self._open()  # even no rows make a workbook, with its header

    def _open(self) -> None:
        number = len(self._sheets) + 1
        self._sheets.append(self._book.create_sheet(SHEET if number == 1 else f"{SHEET} {number}"))
        self._sheets[-1].append([self._cell(v) for v in self._header])
        self._rows = 1

    def append(self, cells: list[Cell]) -> None:
        """Write one row, on a new sheet if this one is full."""
        if self._rows >= MAX_ROWS:
            self._open()
        self._sheets[-1].append([self._cell(v) for v in cells])
        self._rows += 1

    def _cell(self, value: Cell) -> Any:
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= EXACT_BELOW:
            value = str(value)
        if not isinstance(value, str):
            return value
        from openpyxl.cell.cell import WriteOnlyCell

        text = self._illegal.sub("", value)  # characters XML cannot hold
        if len(text) > MAX_CELL_CHARS:
            text = text[: MAX_CELL_CHARS - len(TRUNCATED)] + TRUNCATED
            self.truncated += 1
        # openpyxl reads "=..." as a formula and "#N/A" as an error: results are text.
        made = WriteOnlyCell(self._sheets[-1], value=text)
        made.data_type = "s"
        return made

    def close(self) -> None:
        """End the sheets' temporary streams now, not in a warning at exit."""
        for sheet in self._sheets:
            with contextlib.suppress(Exception):
                sheet.close()


@contextlib.contextmanager
def workbook(tmp: Path, header: list[str]) -> Iterator[Book]:
    """A write-only workbook (rows stream to disk, memory stays flat), saved on exit."""
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    sheets = Book(book, header)
    try:
        yield sheets
    except BaseException:
        sheets.close()
        raise
    book.save(tmp)
