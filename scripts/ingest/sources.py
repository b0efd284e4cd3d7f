"""What `docqueue ingest` reads: files, folder trees, globs, and .jsonl/.csv document lists.

Every document gets a key derived from its content and the schema (sha256), unless a
.jsonl/.csv row names one: the server skips keys it has seen, so a re-run resumes. An
input that cannot be sent becomes an `Item` with the reason, never nothing; a list file
makes one entry per row, and one for where it broke off.
"""

from __future__ import annotations

import base64
import csv
import glob
import json
import os
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from scripts.ingest import limits
from scripts.ingest.base import Doc, Item, SourceError, clip, content_key, shown
from scripts.ingest.rows import row_doc, sized
from scripts.ingest.sniff import BINARY_SUFFIXES, TEXT_SUFFIXES, sniff

__all__ = [
    "Doc",
    "Item",
    "SourceError",
    "content_key",
    "count_rows",
    "expand",
    "file_item",
    "is_list",
    "list_items",
    "matches",
    "read",
]

LIST_SUFFIXES = frozenset({".jsonl", ".ndjson", ".csv"})
JSONL_SUFFIXES = frozenset({".jsonl", ".ndjson"})
NO_ROWS = "no documents in this list"
# What a CSV read with errors="surrogateescape" makes of bytes that are not UTF-8.
_UNDECODED = re.compile("[\udc80-\udcff]")


def matches(raw: str) -> list[str]:
    """What one command-line path names: itself if it exists, else its glob matches, sorted."""
    if os.path.lexists(raw) or not glob.has_magic(raw):
        return [raw]  # a file named `report[1].txt` is that file, not `report1.txt`
    # glob.glob, not Path.glob: a user's pattern may be absolute ("/data/**/*.pdf").
    return sorted(glob.glob(raw, recursive=True)) or [raw]  # noqa: PTH207


def expand(paths: list[str]) -> list[Path]:
    """Known documents named, under folders, or matched by globs (for `extractor infer`)."""
    found: list[Path] = []
    for raw in paths:
        for name in matches(raw):
            path = Path(name)
            if path.is_dir():
                known = TEXT_SUFFIXES | BINARY_SUFFIXES
                found.extend(p for p in _files_under(path) if p.suffix.lower() in known)
            elif path.is_file():
                found.append(path)
            else:
                raise SourceError(f"no such file or folder: {shown(raw)}")
    return list(dict.fromkeys(found))  # a file named twice is read once


def _files_under(folder: Path) -> list[Path]:
    def refuse(exc: OSError) -> None:
        raise SourceError(f"cannot read folder {shown(exc.filename)}: {exc.strerror}")

    found = [
        Path(root, name) for root, _, names in os.walk(folder, onerror=refuse) for name in names
    ]
    return sorted((p for p in found if p.is_file()), key=lambda p: p.parts)


def read(paths: list[Path], *, schema: str) -> Iterator[Doc]:
    """Every document of the paths, in order; the first unreadable one raises SourceError."""
    for path in paths:
        items = list_items(path, schema) if is_list(path) else iter([file_item(path, schema)])
        for item in items:
            if item.doc is None:
                raise SourceError(f"{item.path}: {item.reason}")
            yield item.doc


def is_list(path: str | os.PathLike[str]) -> bool:
    """Whether a named file is a document list (.jsonl, .ndjson, .csv)."""
    return os.path.splitext(path)[1].lower() in LIST_SUFFIXES  # noqa: PTH122


def _suffix(path: str | os.PathLike[str]) -> str:
    return os.path.splitext(path)[1].lower()  # noqa: PTH122


def _why(exc: OSError) -> str:
    return exc.strerror or type(exc).__name__


def file_item(path: str | os.PathLike[str], schema: str) -> Item:
    """One file as a document, or skipped: empty, too large, unreadable, or of no known type."""
    where = shown(path)
    cap = limits.max_file_bytes()
    try:
        with open(path, "rb") as fh:  # noqa: PTH123
            content = fh.read(cap + 1)  # never more: a file may have grown since the walk
            size = os.fstat(fh.fileno()).st_size
    except OSError as exc:
        return Item(where, None, f"cannot read: {_why(exc)}")
    if len(content) > cap:
        return Item(where, None, limits.too_large(max(size, len(content)), cap))
    found = sniff(content, _suffix(path))
    if found.send is None:
        return Item(where, None, found.reason)
    key = content_key(content, schema)
    body: dict[str, Any] = {"key": key, "filename": clip(where), "metadata": {"path": where}}
    if found.send == "text":
        try:
            return Item(where, sized(key, {**body, "text": content.decode("utf-8")}))
        except SourceError:
            pass  # a text of many escaped characters may not fit as JSON; base64 always does
    encoded = base64.b64encode(content).decode()
    try:
        return Item(where, sized(key, {**body, "content_base64": encoded}))
    except SourceError as exc:
        return Item(where, None, str(exc))


def count_rows(path: str | os.PathLike[str]) -> int:
    """How many entries `list_items` makes of a list file (each row, and where it broke)."""
    if _suffix(path) in JSONL_SUFFIXES:
        rows = 0
        try:
            with open(path, "rb") as fh:  # noqa: PTH123
                for line in fh:
                    rows += 1 if line.strip() else 0
        except OSError:
            return rows + 1
        return max(rows, 1)
    return max(sum(1 for _ in _csv_records(path)), 1)


def list_items(path: str | os.PathLike[str], schema: str) -> Iterator[Item]:
    """Every row of a .jsonl/.csv list; a bad row is skipped with its reason, not fatal."""
    items = _jsonl(path, schema) if _suffix(path) in JSONL_SUFFIXES else _csv(path, schema)
    empty = True
    for item in items:
        empty = False
        yield item
    if empty:
        yield Item(shown(path), None, NO_ROWS)


def _jsonl(path: str | os.PathLike[str], schema: str) -> Iterator[Item]:
    name = shown(path)
    try:
        with open(path, "rb") as fh:  # noqa: PTH123
            for number, line in enumerate(fh, start=1):
                if line.strip():
                    yield _jsonl_item(line, schema, where=f"{name}:{number}")
    except OSError as exc:  # cannot be opened, or broke off
        yield Item(name, None, f"cannot read: {_why(exc)}")


def _jsonl_item(line: bytes, schema: str, *, where: str) -> Item:
    try:
        row = json.loads(line)
    except RecursionError:
        return Item(where, None, "not JSON (nested too deeply)")
    except ValueError as exc:  # JSONDecodeError, or bytes that are not UTF-8
        why = exc.msg if isinstance(exc, json.JSONDecodeError) else "not UTF-8"
        return Item(where, None, f"not JSON ({why})")
    if not isinstance(row, dict):
        return Item(where, None, "expected a JSON object")
    return _row_item(row, schema, where=where, csv_row=False)


def _csv(path: str | os.PathLike[str], schema: str) -> Iterator[Item]:
    name = shown(path)
    for number, row, broke in _csv_records(path):
        where = f"{name}:{number}" if number else name
        if row is None:
            yield Item(where, None, broke)
        elif None in row:
            yield Item(where, None, "more cells than the header has columns")
        elif any(_UNDECODED.search(k) or _UNDECODED.search(v or "") for k, v in row.items()):
            yield Item(where, None, "not UTF-8")
        else:
            yield _row_item(row, schema, where=where, csv_row=True)


def _csv_records(
    path: str | os.PathLike[str],
) -> Iterator[tuple[int, dict[str, Any] | None, str | None]]:
    """(row number, row, None) per row (the header is row 1), then (n, None, why) if it broke.

    n is 0 when the file itself cannot be read, else the first row not read.
    """
    csv.field_size_limit(sys.maxsize)  # documents are long "fields"
    number = 0
    try:
        # Undecodable bytes become lone surrogates: that row is skipped, not the rest.
        with open(path, newline="", encoding="utf-8-sig", errors="surrogateescape") as fh:  # noqa: PTH123
            reader = csv.DictReader(fh)
            columns = reader.fieldnames or []
            if "text" not in columns and "content_base64" not in columns:
                yield 0, None, "a CSV needs a `text` or `content_base64` column"
                return
            number = 1
            for number, row in enumerate(reader, start=2):  # `number` is read in `except`
                yield number, row, None
    except (OSError, csv.Error) as exc:
        if number == 0:
            yield 0, None, f"cannot read: {exc}"
        else:
            yield number + 1, None, f"cannot read this row or any after it: {exc}"


def _row_item(row: dict[str, Any], schema: str, *, where: str, csv_row: bool) -> Item:
    try:
        return Item(where, row_doc(row, schema, csv_row=csv_row))
    except SourceError as exc:
        return Item(where, None, str(exc))
