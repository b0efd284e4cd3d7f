"""What `docqueue ingest` reads: files, folder trees, globs, and .jsonl/.csv document lists.

Every document gets a key derived from its content and the schema (sha256), unless a
.jsonl/.csv row names one: the server skips keys it has seen, so a re-run resumes.
"""

from __future__ import annotations

import base64
import csv
import glob
import hashlib
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from schemas.batch_api import MAX_KEY_CHARS

TEXT_SUFFIXES = frozenset({".txt", ".md", ".markdown", ".html", ".htm"})
BINARY_SUFFIXES = frozenset({".pdf", ".docx"})
LIST_SUFFIXES = frozenset({".jsonl", ".ndjson", ".csv"})
DOC_FIELDS = ("text", "content_base64", "filename", "key", "metadata")


class SourceError(Exception):
    """An input that cannot be read (missing path, malformed .jsonl line, ...)."""


@dataclass(frozen=True)
class Doc:
    """One document as POST /v1/batches takes it (`key` is always set)."""

    key: str
    body: dict[str, Any]
    size: int  # bytes the document adds to a request, roughly


def content_key(content: bytes, schema: str) -> str:
    """The idempotency key of a document: sha256 of its bytes and the schema."""
    return hashlib.sha256(content + b"\0" + schema.encode()).hexdigest()


def expand(paths: list[str]) -> list[Path]:
    """Files named, found under folders, or matched by globs; sorted, so runs repeat."""
    found: list[Path] = []
    for raw in paths:
        # glob.glob, not Path.glob: a user's pattern may be absolute ("/data/**/*.pdf").
        found_raw = sorted(glob.glob(raw, recursive=True))  # noqa: PTH207
        matches = [Path(m) for m in found_raw] or [Path(raw)]
        for path in matches:
            if path.is_dir():
                found.extend(
                    p
                    for p in sorted(path.rglob("*"))
                    if p.is_file() and p.suffix.lower() in TEXT_SUFFIXES | BINARY_SUFFIXES
                )
            elif path.is_file():
                found.append(path)
            else:
                raise SourceError(f"no such file or folder: {raw}")
    return list(dict.fromkeys(found))  # a file named twice is read once


def count(paths: list[Path]) -> int:
    """How many documents the paths hold (list files are counted row by row)."""
    total = 0
    for path in paths:
        suffix = path.suffix.lower()
        if suffix in (".jsonl", ".ndjson"):
            with path.open("rb") as fh:
                total += sum(1 for line in fh if line.strip())
        elif suffix == ".csv":
            total += sum(1 for _ in _csv_rows(path))
        else:
            total += 1
    return total


def read(paths: list[Path], *, schema: str) -> Iterator[Doc]:
    """Every document of the paths, in order."""
    for path in paths:
        suffix = path.suffix.lower()
        if suffix in (".jsonl", ".ndjson"):
            yield from _jsonl(path, schema)
        elif suffix == ".csv":
            for number, row in enumerate(_csv_rows(path), start=2):
                yield _row_doc(row, schema, where=f"{path}:{number}", csv_row=True)
        else:
            yield _file_doc(path, schema)


def _file_doc(path: Path, schema: str) -> Doc:
    try:
        content = path.read_bytes()
    except OSError as exc:
        raise SourceError(f"cannot read {path}: {exc.strerror}") from None
    body: dict[str, Any] = {"filename": _clip(str(path)), "metadata": {"path": str(path)}}
    text = None
    if path.suffix.lower() not in BINARY_SUFFIXES:
        try:
            text = content.decode("utf-8")
        except UnicodeDecodeError:
            text = None  # let the server detect the legacy encoding
    if text is not None:
        body["text"] = text
    else:
        body["content_base64"] = base64.b64encode(content).decode()
    key = content_key(content, schema)
    size = len(content) if text is not None else len(body["content_base64"])
    return Doc(key, {**body, "key": key}, size + 200)


def _jsonl(path: Path, schema: str) -> Iterator[Doc]:
    with path.open("rb") as fh:
        for number, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            where = f"{path}:{number}"
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise SourceError(f"{where}: not JSON ({exc.msg})") from None
            if not isinstance(row, dict):
                raise SourceError(f"{where}: expected a JSON object")
            yield _row_doc(row, schema, where=where, csv_row=False)


def _csv_rows(path: Path) -> Iterator[dict[str, str]]:
    csv.field_size_limit(sys.maxsize)  # documents are long "fields"
    try:
        with path.open(newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            if "text" not in (reader.fieldnames or []):
                raise SourceError(f"{path}: a CSV needs a `text` column")
            yield from reader
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise SourceError(f"cannot read {path}: {exc}") from None


def _row_doc(row: dict[str, Any], schema: str, *, where: str, csv_row: bool) -> Doc:
    """A .jsonl object or .csv row; fields that are not document fields become metadata."""
    metadata = dict(row.get("metadata") or {}) if not csv_row else {}
    if not isinstance(metadata, dict):
        raise SourceError(f"{where}: `metadata` must be an object")
    metadata.update({k: v for k, v in row.items() if k not in DOC_FIELDS and k is not None})
    text, b64 = row.get("text"), row.get("content_base64")
    if (text is None) == (b64 is None) or not isinstance(text or b64 or "", str):
        raise SourceError(f"{where}: give exactly one of `text` or `content_base64`")
    try:
        content = text.encode() if text is not None else base64.b64decode(b64 or "")
    except ValueError:
        raise SourceError(f"{where}: content_base64 is not base64") from None
    key = str(row.get("key") or "") or content_key(content, schema)
    if len(key) > MAX_KEY_CHARS:
        raise SourceError(f"{where}: `key` is longer than {MAX_KEY_CHARS} characters")
    body: dict[str, Any] = {"key": key, "metadata": metadata}
    body["text" if text is not None else "content_base64"] = text if text is not None else b64
    if row.get("filename"):
        body["filename"] = _clip(str(row["filename"]))
    return Doc(key, body, len(text or b64 or "") + len(json.dumps(metadata)))


def _clip(name: str) -> str:
    """Filenames are stored up to 512 characters; keep the end (it holds the extension)."""
    return name if len(name) <= 512 else name[-512:]
