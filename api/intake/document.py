"""Turn a submission into something storable: decode, parse, measure, route."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from api.errors import ApiError
from schemas.config import AppConfig, Tier
from schemas.extraction.registry import SchemaSpec, get_schema, schema_shape
from tasks.documents.chunking import needs_chunking
from tasks.documents.errors import DocumentInvalid
from tasks.documents.parse import extract_text
from tasks.documents.tokens import estimate_tokens
from tasks.engine.router import Features, choose_tier
from tasks.webhooks.netguard import Unresolvable, UrlRefused, check_url


@dataclass(frozen=True)
class Prepared:
    """A parsed, routed document; `invalid` is set when the file itself is unusable."""

    spec: SchemaSpec
    tier: Tier
    tier_reason: str
    text: str | None
    kind: str
    tokens: int
    invalid: DocumentInvalid | None = None


def decode(*, text: str | None, content_base64: str | None, max_bytes: int) -> bytes | str:
    """Check sizes and decode base64; raise ApiError for request-level problems."""
    if text is not None:
        if len(text) > max_bytes:
            raise ApiError(413, "document_too_large", f"text exceeds {max_bytes} bytes")
        if not text.strip():
            raise ApiError(422, "document_empty", "the document text is empty")
        return text
    raw = content_base64 or ""
    if len(raw) > max_bytes * 4 // 3 + 4:
        raise ApiError(413, "document_too_large", f"content exceeds {max_bytes} bytes")
    try:
        content = base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ApiError(422, "invalid_base64", "content_base64 is not valid base64") from exc
    if not content:
        raise ApiError(422, "document_empty", "the document content is empty (0 bytes)")
    return content


def prepare(
    *, schema_name: str, tier: str, source: bytes | str, filename: str | None, config: AppConfig
) -> Prepared:
    """Parse and route one document (unknown schema raises UnknownSchemaError)."""
    spec = get_schema(schema_name)
    name: str | None
    if isinstance(source, str):
        # Lone surrogates (valid in JSON, not in UTF-8) carry no text: drop them, as the
        # parser drops control characters.
        content, name = source.encode(errors="ignore"), filename or "document.txt"
    else:
        content, name = source, filename
    try:
        parsed = extract_text(
            content=content, filename=name, max_chars=config.limits.max_text_chars
        )
    except DocumentInvalid as exc:
        fixed: Tier = "low" if tier == "auto" else tier  # type: ignore[assignment]
        return Prepared(spec, fixed, "document invalid", None, "invalid", 0, exc)
    tokens = estimate_tokens(parsed.text)
    first = config.models[config.tiers["medium"].models[0]]
    shape = schema_shape(spec)
    if tier == "auto":
        route = choose_tier(
            features=Features(
                tokens=tokens,
                schema_fields=shape.fields,
                schema_depth=shape.depth,
                needs_chunking=needs_chunking(text=parsed.text, max_tokens=first.chunk_tokens),
            ),
            config=config,
        )
        chosen, reason = route.tier, route.reason
    else:
        chosen, reason = tier, "requested"  # type: ignore[assignment]
    return Prepared(spec, chosen, reason, parsed.text, parsed.kind, tokens)


def request_hash(payload: dict[str, Any]) -> str:
    """A stable hash of a request body, for Idempotency-Key comparison."""
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def check_webhook_url(url: str | None, *, allow_private: bool) -> None:
    """422 `webhook_url_invalid` for a URL webhooks may never reach (scheme, private address).

    A host that does not resolve right now passes: delivery retries it, and refuses it then.
    """
    if url is None:
        return
    try:
        check_url(url, allow_private=allow_private)
    except Unresolvable:
        return
    except UrlRefused as exc:
        raise ApiError(422, "webhook_url_invalid", f"webhook_url: {exc}") from exc
