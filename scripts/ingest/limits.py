"""The server's size limits as the CLI assumes them, and what fits in one request.

The CLI cannot read the TOML of the deployment it talks to, so it takes `[limits]` from
the `schemas/docqueue.toml` it ships with (the defaults: 50 MiB per document, 64 MiB per
request). An input over them is skipped with its size, before it is read: sent, it would
be a 413 for its whole request, and the ingest would stop.
"""

from __future__ import annotations

import tomllib
from functools import lru_cache

from schemas.config import DEFAULT_CONFIG, Limits

MIB = 1024 * 1024
# The request's own JSON around its documents (schema, tier, keys, names) and a margin.
ENVELOPE_BYTES = MIB


@lru_cache(maxsize=1)
def server() -> Limits:
    """`[limits]` of the checked-in TOML."""
    with DEFAULT_CONFIG.open("rb") as fh:
        return Limits.model_validate(tomllib.load(fh)["limits"])


def request_budget() -> int:
    """The most bytes of JSON one document may take in a request."""
    return server().max_request_bytes - ENVELOPE_BYTES


def max_document_bytes() -> int:
    """The largest document content the server takes."""
    return server().max_document_bytes


def max_file_bytes() -> int:
    """The largest file sent: within the document limit, and its base64 within a request."""
    return min(max_document_bytes(), request_budget() * 3 // 4)


def too_large(size: int, limit: int) -> str:
    """The reason a document over `limit` bytes is skipped: `too large (48.0 MiB > 47.2 MiB)`."""
    return f"too large ({_size(size)} > {_size(limit)})"


def _size(n: int) -> str:
    return f"{n / MIB:.1f} MiB" if n >= MIB else f"{n:,} bytes"
