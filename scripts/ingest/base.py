"""What every part of an ingest shares: its error, a document, an input, and paths as text."""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from typing import Any

MAX_FILENAME_CHARS = 512  # jobs.filename


class SourceError(Exception):
    """An input that cannot be read (missing path, malformed .jsonl line, ...)."""


@dataclass(frozen=True, slots=True)
class Doc:
    """One document as POST /v1/batches takes it (`key` is always set)."""

    key: str
    body: dict[str, Any]
    size: int  # bytes of JSON the document adds to a request


@dataclass(frozen=True, slots=True)
class Item:
    """One input of an ingest (a file, or a row of a list): its document, or why none."""

    path: str
    doc: Doc | None
    reason: str | None = None


def shown(path: str | os.PathLike[str]) -> str:
    """A path as text: its bytes as UTF-8, an undecodable byte as `\\xNN`.

    File names are bytes; Python keeps the undecodable ones as lone surrogates, which no
    JSON body, CSV or terminal can hold. A valid name comes back as the same object.
    """
    text = os.fspath(path)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return os.fsencode(text).decode("utf-8", "backslashreplace")
    return text


def content_key(content: bytes, schema: str) -> str:
    """The idempotency key of a document: sha256 of its bytes and the schema."""
    return hashlib.sha256(content + b"\0" + schema.encode()).hexdigest()


def clip(name: str) -> str:
    """Filenames are stored up to 512 characters; keep the end (it holds the extension)."""
    return name if len(name) <= MAX_FILENAME_CHARS else name[-MAX_FILENAME_CHARS:]


def json_size(value: Any) -> int:
    """The bytes `value` takes in a request body (ValueError if JSON cannot hold it)."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    try:
        return len(text.encode("utf-8"))
    except UnicodeEncodeError:
        raise ValueError("holds lone surrogates (not UTF-8)") from None
