"""Fetch the result lines of an ingest's keys, park them on disk, and find them again.

Rows are written to a temporary file as they stream in, one JSON line each, and only the
offset of each stays in memory (on the ledger's entry), so an --out in input order costs
one pass over the results whatever their size.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from typing import IO, Any

from scripts.client import Client as ApiClient
from scripts.ingest.accounting import Ledger
from scripts.ingest.columns import Columns


class Spool:
    """Result rows in a temporary file, in arrival order; columns seen on the way."""

    def __init__(self, columns: Columns) -> None:
        self.columns = columns
        self._file: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115 - closed by close()
        self._end = 0
        self.count = 0

    def __enter__(self) -> Spool:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        """Drop the temporary file."""
        self._file.close()

    def add(self, row: dict[str, Any]) -> int:
        """Park one results line; returns where it is."""
        # ensure_ascii=False escapes every newline inside strings: one row, one line.
        data = json.dumps(row, ensure_ascii=False).encode() + b"\n"
        at = self._end
        self._file.seek(at)
        self._file.write(data)
        self._end += len(data)
        self.count += 1
        self.columns.see(row.get("result"))
        return at

    def get(self, at: int) -> dict[str, Any]:
        """The line parked at `at`."""
        self._file.seek(at)
        row: dict[str, Any] = json.loads(self._file.readline())
        return row

    def rows(self) -> Iterator[dict[str, Any]]:
        """Every parked line, in the order it came."""
        at = 0
        while at < self._end:
            self._file.seek(at)
            line = self._file.readline()
            at += len(line)
            yield json.loads(line)


def collect(
    api: ApiClient, batch_ids: list[str], ledger: Ledger | None, spool: Spool | None = None
) -> None:
    """Read the results of these batches: our keys' jobs into `ledger` (every job without
    one), each parked in `spool`.

    A batch shared with other ingests holds their documents too: only our keys count.
    """
    for batch_id in dict.fromkeys(batch_ids):
        for row in api.results(batch_id):
            entry = ledger.found(batch_id, row) if ledger is not None else None
            if ledger is not None and entry is None:
                continue
            if spool is not None:
                at = spool.add(row)
                if entry is not None:
                    entry.at = at
