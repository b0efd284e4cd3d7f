"""/v1/batches: submit documents (JSON or streamed NDJSON), progress, results, cancel, retry."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Annotated

from fastapi import APIRouter, Header, Request
from fastapi.responses import StreamingResponse
from pydantic import ValidationError
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from api.deps import SessionDep, SettingsDep, TenantDep
from api.errors import ApiError
from api.intake.batch import CHUNK_ROWS, BatchRouter, Tally, ingest_chunk, ndjson_lines
from api.intake.document import check_webhook_url
from api.views.batches import BODY_DOC, batch_out, result_line, validation_reason
from schemas.batch_api import (
    NDJSON_TYPES,
    BatchAccepted,
    BatchCreate,
    BatchDocument,
    BatchHeader,
    BatchOut,
    RejectedLine,
    media_type,
)
from schemas.config import Settings
from storage import batches as batch_store
from storage import pages
from storage import webhooks as webhook_store
from storage.db import session_scope
from storage.models import Batch, Tenant
from storage.rows import Cursor

router = APIRouter(prefix="/v1/batches", tags=["batches"])

RESULT_PAGE = 1000
MAX_REJECTED_SHOWN = 100
MAX_LISTED = 1000  # duplicate_batches named in one answer
IdempotencyKey = Annotated[str | None, Header(max_length=200)]


@router.post("", status_code=202, response_model=BatchAccepted, openapi_extra=BODY_DOC)
async def create_batch(
    request: Request,
    session: SessionDep,
    tenant: TenantDep,
    settings: SettingsDep,
    idempotency_key: IdempotencyKey = None,
) -> BatchAccepted:
    """Queue many documents as one batch; a document `key` that already has a job is skipped.

    JSON bodies are one transaction. NDJSON bodies stream: a header line, then one document
    per line, committed every CHUNK_ROWS documents; lines that are not documents are
    reported in `rejected`. The same Idempotency-Key returns (and resumes) the same batch.
    """
    media = media_type(request.headers.get("content-type", ""))
    intake = _Intake(session, tenant, settings, idempotency_key)
    if media in NDJSON_TYPES:
        return await intake.from_ndjson(request)
    if media not in ("application/json", ""):
        raise ApiError(415, "unsupported_media_type", "send application/json or x-ndjson")
    try:
        body = BatchCreate.model_validate_json(await request.body())
    except ValidationError as exc:
        raise ApiError(422, "invalid_request", validation_reason(exc)) from exc
    return await run_in_threadpool(intake.from_json, body)


class _Intake:
    """One POST /v1/batches: open the batch with the first chunk, insert, commit, answer."""

    def __init__(
        self, session: Session, tenant: Tenant, settings: Settings, key: str | None
    ) -> None:
        self.session, self.tenant, self.settings, self.key = session, tenant, settings, key
        self.batch: Batch | None = None
        self.tally = Tally()

    def route(self, header: BatchHeader) -> BatchRouter:
        """Check the header (schema, webhook URL) and measure its schema once."""
        check_webhook_url(header.webhook_url, allow_private=self.settings.webhook_allow_private)
        return BatchRouter(header=header, config=self.settings.app)

    def flush(self, router_: BatchRouter, docs: list[BatchDocument], *, commit: bool) -> None:
        """Insert one chunk of documents (opening the batch with the first chunk)."""
        if self.batch is None:
            header = router_.header
            self.batch = batch_store.open_batch(
                session=self.session,
                tenant_id=self.tenant.id,
                schema_name=header.schema_name,
                tier=header.tier,
                webhook_url=header.webhook_url,
                key=self.key,
            )
        ingest_chunk(
            session=self.session, batch=self.batch, router=router_, docs=docs, tally=self.tally
        )
        if commit:
            self.session.commit()

    def finish(self) -> BatchAccepted:
        """Commit (a 202 means stored) and count; owe the batch webhook if nothing is left."""
        if self.batch is None:  # pragma: no cover - callers flush at least once
            raise ApiError(422, "no_documents", "the request holds no documents")
        # Unreadable documents fail at submission: a batch of only those is finished now.
        webhook_store.owe_for_batch(session=self.session, batch_id=self.batch.id)
        self.session.commit()
        self.session.refresh(self.batch)
        return BatchAccepted(
            id=self.batch.id,
            total=self.batch.total,
            created=self.tally.created,
            duplicates=self.tally.duplicates,
            duplicate_batches=sorted(self.tally.duplicate_batches)[:MAX_LISTED],
        )

    def from_json(self, body: BatchCreate) -> BatchAccepted:
        """A JSON body: every chunk in one transaction."""
        router_ = self.route(body)
        for start in range(0, len(body.documents), CHUNK_ROWS):
            self.flush(router_, body.documents[start : start + CHUNK_ROWS], commit=False)
        return self.finish()

    async def from_ndjson(self, request: Request) -> BatchAccepted:
        """An NDJSON body, read line by line; a chunk is committed once it is full."""
        config = self.settings.app
        limit = config.limits.max_document_bytes * 4 // 3 + 1024 * 1024  # base64 + metadata
        router_: BatchRouter | None = None
        pending: list[BatchDocument] = []
        rejected: list[RejectedLine] = []
        rejected_count = 0
        async for number, line in ndjson_lines(request.stream(), max_line_bytes=limit):
            if line is not None and not line.strip():
                continue  # blank lines (a trailing newline) are not documents
            if router_ is None:
                try:
                    header = BatchHeader.model_validate_json(line or b"")
                except ValidationError as exc:
                    reason = validation_reason(exc)
                    raise ApiError(422, "invalid_request", f"line {number}: {reason}") from exc
                router_ = await run_in_threadpool(self.route, header)
                continue
            why: str | None = f"the line exceeds {limit} bytes" if line is None else None
            if line is not None:
                try:
                    pending.append(BatchDocument.model_validate_json(line))
                except ValidationError as exc:
                    why = validation_reason(exc)
            if why is not None:
                rejected_count += 1
                if len(rejected) < MAX_REJECTED_SHOWN:
                    rejected.append(RejectedLine(line=number, message=why))
            elif len(pending) >= CHUNK_ROWS:
                await run_in_threadpool(self.flush, router_, pending, commit=True)
                pending = []
        if router_ is None:
            raise ApiError(422, "invalid_request", "line 1: the header line is missing")
        if pending:
            await run_in_threadpool(self.flush, router_, pending, commit=True)
        if self.batch is None:
            first = f"; first: line {rejected[0].line}: {rejected[0].message}" if rejected else ""
            raise ApiError(422, "no_documents", f"no valid document lines{first}")
        accepted = await run_in_threadpool(self.finish)
        return accepted.model_copy(update={"rejected": rejected_count, "rejected_lines": rejected})


def _summary(session: Session, batch: Batch) -> BatchOut:
    return batch_out(batch, batch_store.summarize(session=session, batch=batch))


@router.get("/{batch_id}", response_model=BatchOut, response_model_by_alias=True)
def read_batch(batch_id: uuid.UUID, session: SessionDep, tenant: TenantDep) -> BatchOut:
    """Jobs per status, progress, usage so far; `finished_at` once every job is terminal."""
    batch = batch_store.get_batch(session=session, tenant_id=tenant.id, batch_id=batch_id)
    return _summary(session, batch)


@router.post("/{batch_id}/cancel", response_model=BatchOut, response_model_by_alias=True)
def cancel_batch(batch_id: uuid.UUID, session: SessionDep, tenant: TenantDep) -> BatchOut:
    """Cancel the jobs that have not started (error type `cancelled`); running ones finish."""
    batch = batch_store.get_batch(session=session, tenant_id=tenant.id, batch_id=batch_id)
    batch_store.cancel(session=session, batch=batch)
    webhook_store.owe_for_batch(session=session, batch_id=batch.id)  # if nothing was running
    session.refresh(batch)
    return _summary(session, batch)


@router.post("/{batch_id}/retry", response_model=BatchOut, response_model_by_alias=True)
def retry_batch(batch_id: uuid.UUID, session: SessionDep, tenant: TenantDep) -> BatchOut:
    """Requeue the batch's failed and cancelled jobs (unreadable documents stay failed)."""
    batch = batch_store.get_batch(session=session, tenant_id=tenant.id, batch_id=batch_id)
    batch_store.retry(session=session, batch=batch)
    session.refresh(batch)
    return _summary(session, batch)


def _result_lines(batch: Batch) -> Iterator[bytes]:
    """Keyset pages of RESULT_PAGE rows, each read in its own short transaction."""
    after: Cursor | None = None
    while True:
        with session_scope() as session:
            rows = pages.result_page(session=session, batch=batch, after=after, limit=RESULT_PAGE)
        if rows:
            yield b"".join(result_line(r) for r in rows)
        if len(rows) < RESULT_PAGE:
            return
        after = rows[-1].cursor


@router.get(
    "/{batch_id}/results",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/x-ndjson": {}}}},
)
def batch_results(batch_id: uuid.UUID, session: SessionDep, tenant: TenantDep) -> StreamingResponse:
    """Stream one NDJSON line per job: id, key, filename, status, result, error, metadata, usage."""
    batch = batch_store.get_batch(session=session, tenant_id=tenant.id, batch_id=batch_id)
    session.expunge(batch)  # read by the stream after this session is gone
    return StreamingResponse(_result_lines(batch), media_type="application/x-ndjson")
