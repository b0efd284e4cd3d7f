"""Bulk intake for batches: route documents cheaply, store them in chunks, split NDJSON lines."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from api.errors import ApiError
from api.intake.document import DocumentRouter, Prepared, decode, new_job, store_text
from api.intake.lanes import plan_lane
from schemas.batch_api import KEY_PREFIX, BatchDocument, BatchHeader
from schemas.config import AppConfig
from schemas.extractors.spec import ExtractorSpec
from storage import batches as batch_store
from storage import bulk
from storage.jobs import NewJob
from storage.models import Batch
from tasks.documents.errors import DocumentInvalid

CHUNK_ROWS = 500  # documents per multi-row INSERT (and per NDJSON commit)


class BatchRouter:
    """A DocumentRouter for the documents of one batch, which share its header."""

    def __init__(
        self,
        *,
        header: BatchHeader,
        spec: ExtractorSpec,
        config: AppConfig,
        trust_policy: dict[str, Any] | None = None,
    ) -> None:
        self.header = header
        self.config = config
        self.trust_policy = trust_policy  # api.intake.policy: one snapshot for the batch
        self.router = DocumentRouter(spec=spec, tier=header.tier, config=config)
        self.lane = plan_lane(header, config)  # once: every document of the request shares it

    def prepare(self, doc: BatchDocument) -> Prepared:
        """Decode, parse and route one document; an unusable one comes back `invalid`."""
        try:
            source = decode(
                text=doc.text,
                content_base64=doc.content_base64,
                max_bytes=self.config.limits.max_document_bytes,
            )
        except ApiError as exc:  # empty, too large, bad base64: this document fails, not all
            return self.router.invalid(DocumentInvalid(exc.type, exc.message))
        return self.router.prepare(source=source, filename=doc.filename)

    def new_job(
        self, batch: Batch, doc: BatchDocument, prep: Prepared, digest: str | None
    ) -> NewJob:
        """The job row for one prepared document of `batch`."""
        return new_job(
            tenant_id=batch.tenant_id,
            prep=prep,
            digest=digest,
            filename=doc.filename,
            meta=doc.metadata,
            reuse=self.header.reuse,
            batch_id=batch.id,
            idempotency_key=KEY_PREFIX + doc.key if doc.key else None,
            trust_policy=self.trust_policy,
            lane=self.lane,
        )


@dataclass
class Tally:
    """What a request did so far, and which other batches hold its duplicates."""

    created: int = 0
    duplicates: int = 0
    duplicate_batches: set[uuid.UUID] = field(default_factory=set)

    def add(self, other: Tally) -> None:
        """Count what another (committed) chunk did."""
        self.created += other.created
        self.duplicates += other.duplicates
        self.duplicate_batches |= other.duplicate_batches


def ingest_chunk(
    *, session: Session, batch: Batch, router: BatchRouter, docs: list[BatchDocument]
) -> Tally:
    """Parse and insert up to CHUNK_ROWS documents with two multi-row INSERTs (no commit).

    Returns what the chunk did, for the caller to count once it is committed.
    """
    tally = Tally()
    keys = [KEY_PREFIX + d.key for d in docs if d.key]
    taken = bulk.key_owners(session=session, tenant_id=batch.tenant_id, keys=keys)
    tally.duplicate_batches.update(b for b in taken.values() if b is not None and b != batch.id)
    fresh: list[BatchDocument] = []
    seen: set[str] = set()
    for doc in docs:
        key = KEY_PREFIX + doc.key if doc.key else None
        if key is not None and (key in taken or key in seen):
            continue  # already has a job: skip the parse, the insert would skip it anyway
        if key is not None:
            seen.add(key)
        fresh.append(doc)
    preps = [router.prepare(d) for d in fresh]
    texts = [p for p in preps if p.text is not None and p.scan is None]
    digests = iter(
        bulk.put_documents(session=session, docs=[(p.text or "", p.kind, p.tokens) for p in texts])
    )
    rows = [
        router.new_job(batch, doc, prep, _digest(session, prep, digests))
        for doc, prep in zip(fresh, preps, strict=True)
    ]
    created = batch_store.add_jobs(session=session, batch_id=batch.id, rows=rows)
    tally.created += created
    tally.duplicates += len(docs) - created
    return tally


def _digest(session: Session, prep: Prepared, digests: Iterator[str]) -> str | None:
    """The stored document's key: the next bulk-stored text's, or a scan stored on its own.

    A scan keeps its bytes for the worker's OCR: scans are few and big, one INSERT each.
    """
    if prep.scan is not None:
        return store_text(session=session, prep=prep)
    return next(digests) if prep.text is not None else None


async def ndjson_lines(
    chunks: AsyncIterator[bytes], *, max_line_bytes: int
) -> AsyncIterator[tuple[int, bytes | None]]:
    """Split a byte stream into (line number, line); None stands for a line over the limit.

    Only one line (at most `max_line_bytes`) is buffered at a time; an oversized line is
    discarded as it streams past.
    """
    buf = bytearray()
    number = 0
    oversized = False
    async for chunk in chunks:
        start = 0
        while (end := chunk.find(b"\n", start)) >= 0:
            number += 1
            if not oversized:
                buf += chunk[start:end]
            yield number, None if oversized or len(buf) > max_line_bytes else bytes(buf)
            buf.clear()
            oversized = False
            start = end + 1
        if not oversized:
            buf += chunk[start:]
            if len(buf) > max_line_bytes:
                buf.clear()
                oversized = True
    if buf or oversized:
        yield number + 1, None if oversized else bytes(buf)
