"""One row of a .jsonl/.csv document list as a document, checked as the server checks it.

A row the server would refuse refuses the whole request (one 422 for every document of
it), and a row JSON cannot encode crashes the client before anything is sent; so each row
is checked here against the server's own model (`schemas.batch_api.BatchDocument`: types,
exactly one of `text` and `content_base64`, NUL characters and lone surrogates, NaN and
Infinity, nesting deeper than `MAX_JSON_DEPTH`) and skipped with the reason if it fails.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from schemas.batch_api import BatchDocument
from scripts.ingest import limits
from scripts.ingest.base import Doc, SourceError, clip, content_key, json_size

DOC_FIELDS = ("text", "content_base64", "filename", "key", "metadata")
ABSENT = (None, "")  # an empty key or filename is no key or filename; in a CSV, any cell


def row_doc(row: Mapping[str, Any], schema: str, *, csv_row: bool) -> Doc:
    """A .jsonl object or .csv row; fields that are not document fields become metadata."""
    fields = {k: row[k] for k in DOC_FIELDS if k in row}
    for name in ("key", "filename", *(DOC_FIELDS if csv_row else ())):
        if fields.get(name, "") in ABSENT:
            fields.pop(name, None)
    metadata = fields.pop("metadata", None)
    if csv_row and metadata is not None:
        metadata = _json_object(metadata)
    if metadata is None:
        metadata = {}
    if not isinstance(metadata, dict):
        raise SourceError("`metadata` must be an object")
    extras = {k: v for k, v in row.items() if k not in DOC_FIELDS and k}
    if isinstance(fields.get("filename"), str):
        fields["filename"] = clip(fields["filename"])
    try:
        doc = BatchDocument.model_validate({**fields, "metadata": {**metadata, **extras}})
    except ValidationError as exc:
        raise SourceError(_reason(exc)) from None
    source, content = _source(doc)
    if len(content) > limits.max_document_bytes():
        raise SourceError(limits.too_large(len(content), limits.max_document_bytes()))
    key = doc.key or content_key(content, schema)
    body: dict[str, Any] = {"key": key, "metadata": doc.metadata, **source}
    if doc.filename:
        body["filename"] = doc.filename
    return sized(key, body)


def _source(doc: BatchDocument) -> tuple[dict[str, str], bytes]:
    """The document's `text` or `content_base64`, and the bytes its key is made of."""
    if doc.text is not None:
        try:
            content = doc.text.encode("utf-8")
            text = doc.text
        except UnicodeEncodeError:
            # Lone surrogates are valid JSON, not UTF-8: the server drops them, so does this.
            content = doc.text.encode("utf-8", "ignore")
            text = content.decode("utf-8")
        if not text.strip():
            raise SourceError("empty document")  # the server would fail it: document_empty
        return {"text": text}, content
    try:
        content = base64.b64decode(doc.content_base64 or "", validate=True)
    except (binascii.Error, ValueError):
        raise SourceError("`content_base64` is not base64") from None
    if not content:
        raise SourceError("empty document")
    return {"content_base64": doc.content_base64 or ""}, content


def sized(key: str, body: dict[str, Any]) -> Doc:
    """The document with its size in a request; SourceError if no request can carry it."""
    try:
        size = json_size(body)
    except ValueError as exc:
        raise SourceError(f"cannot be sent as JSON: {exc}") from None
    if size > limits.request_budget():
        raise SourceError(limits.too_large(size, limits.request_budget()))
    return Doc(key, body, size)


def _json_object(cell: Any) -> Any:
    """A CSV `metadata` cell: a JSON object, or SourceError."""
    try:
        value = json.loads(cell)
    except (ValueError, RecursionError):
        value = None
    if not isinstance(value, dict):
        raise SourceError("the `metadata` column must hold a JSON object")
    return value


def _reason(exc: ValidationError) -> str:
    """The first problems of a row, on one line: `text`: Input should be a valid string."""
    parts = []
    for err in exc.errors()[:3]:
        where = ".".join(str(p) for p in err.get("loc", ()))
        message = str(err["msg"]).removeprefix("Value error, ")
        parts.append(f"`{where}`: {message}" if where else message)
    return "; ".join(parts)
