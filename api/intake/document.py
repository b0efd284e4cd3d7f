"""Turn a submission into something storable: decode, parse, measure, route, build its job."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import uuid
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from sqlalchemy.orm import Session

from api.errors import ApiError
from api.intake import parsing
from api.intake.lanes import REALTIME, LanePlan
from schemas.api import TierChoice
from schemas.config import AppConfig, Tier
from schemas.extraction.registry import SchemaShape, shape_of
from schemas.extractors.spec import ExtractorSpec
from schemas.jobs import ErrorType, JobStatus
from storage.documents import put_document
from storage.jobs import NewJob
from storage.scans import put_scan
from tasks.documents.errors import DocumentInvalid
from tasks.documents.parse import ParsedDocument
from tasks.documents.tokens import estimate_tokens_sampled
from tasks.engine.router import Features, choose_tier
from tasks.webhooks.netguard import Unresolvable, UrlRefused, check_url

OCR_PAGE_TOKENS = 600  # a scanned page's text, for routing before it is read


@dataclass(frozen=True)
class Prepared:
    """A parsed, routed document; `invalid` is set when the file itself is unusable."""

    spec: ExtractorSpec
    tier: Tier
    tier_reason: str
    text: str | None
    kind: str
    tokens: int
    invalid: DocumentInvalid | None = None
    scan: Scanned | None = None  # pages without a text layer: the worker OCRs them


@dataclass(frozen=True)
class Scanned:
    """A document kept as bytes for the worker's OCR (storage/scans.py)."""

    content: bytes
    pages: tuple[int, ...]  # the 1-based pages to OCR
    total_pages: int


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


def _content(source: bytes | str, filename: str | None) -> tuple[bytes, str | None]:
    """The bytes to parse and the name to sniff them by."""
    if isinstance(source, str):
        # Lone surrogates (valid in JSON, not in UTF-8) carry no text: drop them, as the
        # parser drops control characters (a plain encode() would raise).
        return source.encode(errors="ignore"), filename or "document.txt"
    return source, filename


class DocumentRouter:
    """Parse documents for one schema and tier choice, and route each to a tier.

    The extractor is resolved by the caller (tasks.extractors.registry.resolve) and its
    shape measured once per spec: a batch builds one router for all of its documents.
    """

    def __init__(self, *, spec: ExtractorSpec, tier: TierChoice, config: AppConfig) -> None:
        self.spec = spec
        self.tier = tier
        self.config = config
        self.shape = _shape(spec)
        self.chunk_tokens = config.models[config.tiers["medium"].models[0]].chunk_tokens

    def prepare(self, *, source: bytes | str, filename: str | None) -> Prepared:
        """Parse (in the sandbox if it needs a parser) and route one decoded document.

        Blocks the calling thread for as long as the parse takes: never call it on the
        event loop. An unusable document comes back `invalid`.
        """
        content, name = _content(source, filename)
        try:
            parsed = parsing.parse(content=content, filename=name, limits=self.config.limits)
        except DocumentInvalid as exc:
            return self.invalid(exc)
        return self.route(parsed, content)

    def prepare_inline(self, *, source: bytes | str, filename: str | None) -> Prepared | None:
        """`prepare` for plain text and Markdown; None for a document the sandbox must parse."""
        content, name = _content(source, filename)
        try:
            if parsing.needs_sandbox(content, name):
                return None
            parsed = parsing.parse(content=content, filename=name, limits=self.config.limits)
        except DocumentInvalid as exc:
            return self.invalid(exc)
        return self.route(parsed)

    async def prepare_async(self, *, source: bytes | str, filename: str | None) -> Prepared:
        """`prepare` awaited off the event loop (a parse slot is awaited without a thread)."""
        content, name = _content(source, filename)
        try:
            parsed = await parsing.parse_async(
                content=content, filename=name, limits=self.config.limits
            )
        except DocumentInvalid as exc:
            return self.invalid(exc)
        return self.route(parsed, content)

    def route(self, parsed: ParsedDocument, content: bytes | None = None) -> Prepared:
        """Measure a parsed document and choose its tier (a scan by its pages to OCR)."""
        scan: Scanned | None = None
        if parsed.ocr_pages and content is not None:
            try:
                scan = self._scan(parsed, content)
            except DocumentInvalid as exc:
                return self.invalid(exc)
        tokens = estimate_tokens_sampled(parsed.text)  # routing needs no exact count
        if scan is not None:
            read = min(len(scan.pages), self.config.ocr.max_pages)
            tokens += read * OCR_PAGE_TOKENS
        choice = self.tier
        if choice == "auto":
            route = choose_tier(
                features=Features(
                    tokens=tokens,
                    schema_fields=self.shape.fields,
                    schema_depth=self.shape.depth,
                    needs_chunking=tokens > self.chunk_tokens,  # = chunking.needs_chunking
                ),
                config=self.config,
            )
            tier, reason = route.tier, route.reason
        else:
            tier, reason = choice, "requested"
        return Prepared(self.spec, tier, reason, parsed.text, parsed.kind, tokens, scan=scan)

    def _scan(self, parsed: ParsedDocument, content: bytes) -> Scanned:
        """The scan to keep for OCR, or DocumentInvalid past the `[ocr]` limits."""
        ocr = self.config.ocr
        if len(content) > ocr.max_source_bytes:
            raise DocumentInvalid(
                "too_large",
                f"the scan is {len(content):,} bytes; OCR takes at most {ocr.max_source_bytes:,}",
            )
        if len(parsed.ocr_pages) > ocr.max_pages and ocr.on_limit == "fail":
            raise DocumentInvalid(
                "too_large",
                f"the document has {len(parsed.ocr_pages):,} pages without a text layer; "
                f"OCR reads at most {ocr.max_pages:,} (ocr.max_pages)",
            )
        return Scanned(content, parsed.ocr_pages, parsed.pages or len(parsed.ocr_pages))

    def invalid(self, exc: DocumentInvalid) -> Prepared:
        """A document that cannot be read: it fails at submission, on the cheapest tier."""
        choice = self.tier
        tier: Tier = "low" if choice == "auto" else choice
        return Prepared(self.spec, tier, "document invalid", None, "invalid", 0, exc)


@lru_cache(maxsize=256)  # specs are cached per version, so this hits on every request
def _shape(spec: ExtractorSpec) -> SchemaShape:
    return shape_of(spec.json_schema)


def new_job(
    *,
    tenant_id: uuid.UUID,
    prep: Prepared,
    digest: str | None,
    filename: str | None,
    meta: dict[str, Any],
    reuse: bool,
    batch_id: uuid.UUID | None = None,
    idempotency_key: str | None = None,
    request_hash: str | None = None,
    webhook_url: str | None = None,
    trust_policy: dict[str, Any] | None = None,
    lane: LanePlan = REALTIME,
) -> NewJob:
    """The job row for a prepared document (queued, or failed if it could not be read)."""
    invalid = prep.invalid
    return NewJob(
        tenant_id=tenant_id,
        schema_name=prep.spec.name,
        schema_version=str(prep.spec.version),
        prompt_version=prep.spec.prompt.version,
        extractor_version_id=uuid.UUID(prep.spec.version_id) if prep.spec.version_id else None,
        schema_hash=prep.spec.schema_hash,
        prompt_hash=prep.spec.prompt_hash,
        tier=prep.tier,
        tier_reason=prep.tier_reason,
        lane=lane.lane,
        lane_reason=lane.reason,
        deadline=lane.deadline,
        document_sha256=digest,
        filename=filename,
        batch_id=batch_id,
        idempotency_key=idempotency_key,
        request_hash=request_hash,
        reuse=reuse,
        meta=meta,
        webhook_url=webhook_url,
        status=JobStatus.FAILED if invalid else JobStatus.QUEUED,
        error_type=ErrorType.DOCUMENT_INVALID if invalid else None,
        error_message=str(invalid) if invalid else None,
        trust_policy=trust_policy,
        scanned=prep.scan is not None,
    )


def store_text(*, session: Session, prep: Prepared) -> str | None:
    """Store a prepared document's text (or scan) once under its hash; None if unreadable."""
    if prep.text is None:
        return None
    if prep.scan is not None:
        pages = prep.text.split("\f")
        return put_scan(
            session=session,
            content=prep.scan.content,
            kind=prep.kind,
            pages=list(prep.scan.pages),
            total_pages=prep.scan.total_pages,
            page_texts={n: t for n, t in enumerate(pages, start=1) if t.strip()},
            tokens=prep.tokens,
        )
    return put_document(session=session, text_=prep.text, kind=prep.kind, tokens=prep.tokens)


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
