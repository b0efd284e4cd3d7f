"""/v1/batches: submit documents (JSON or streamed NDJSON), progress, cancel, retry.

The results stream is api/routes/batch_results.py.
"""

from __future__ import annotations

import uuid
from typing import Annotated

import structlog
from fastapi import APIRouter, Header, Query, Request
from pydantic import ValidationError
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from api.deps import SessionDep, SettingsDep, TenantDep
from api.errors import ApiError
from api.intake.batch import CHUNK_ROWS, BatchRouter, Tally, ingest_chunk
from api.intake.document import check_webhook_url
from api.intake.ndjson import NdjsonUpload
from api.intake.policy import trust_policy
from api.killswitch import read_killswitch
from api.paging import decode_cursor, encode_cursor, rfc3339
from api.views.batches import BODY_DOC, batch_out, validation_reason
from schemas.api import ErrorInfo
from schemas.batch_api import (
    NDJSON_TYPES,
    BatchAccepted,
    BatchCreate,
    BatchDocument,
    BatchHeader,
    BatchOut,
    BatchPage,
    BatchStatus,
    media_type,
)
from schemas.config import Settings
from storage import batch_pages
from storage import batches as batch_store
from storage import webhooks as webhook_store
from storage.models import Batch, Tenant
from tasks.extractors.registry import resolve
from tasks.observability import spans

router = APIRouter(prefix="/v1/batches", tags=["batches"])
log = structlog.get_logger(__name__)

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
    per line, committed every CHUNK_ROWS documents or `limits.ndjson_buffer_bytes`; lines
    that are not documents are reported in `rejected`. If storing fails after a commit the
    answer says what was stored (`complete: false`, `stopped_at_line`, `error`), never a 5xx.
    The same Idempotency-Key returns (and resumes) the same batch.
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
        self.batch_id: uuid.UUID | None = None  # kept: after a rollback, batch.id is a query
        self.router: BatchRouter | None = None
        self.total = 0  # the batch's total as this request last stored it
        self.tally = Tally()

    def route(self, header: BatchHeader) -> BatchRouter:
        """Check the header (schema, webhook URL) and measure its schema once."""
        check_webhook_url(header.webhook_url, allow_private=self.settings.webhook_allow_private)
        # an unknown or archived extractor fails the whole request
        spec = resolve(session=self.session, tenant_id=self.tenant.id, ref=header.schema_name)
        policy = trust_policy(session=self.session, tenant=self.tenant, spec=spec, body=header)
        return BatchRouter(header=header, spec=spec, config=self.settings.app, trust_policy=policy)

    def begin(self, header: BatchHeader) -> None:
        """The NDJSON header line: check it before any document is read."""
        self.router = self.route(header)

    def flush(self, router_: BatchRouter, docs: list[BatchDocument]) -> Tally:
        """Insert one chunk of documents, opening the batch with the first (no commit)."""
        batch = self.batch
        if batch is None:
            header = router_.header
            batch = batch_store.open_batch(
                session=self.session,
                tenant_id=self.tenant.id,
                schema_name=router_.router.spec.ref,  # the version it resolved to
                tier=header.tier,
                webhook_url=header.webhook_url,
                key=self.key,
                lane=header.lane,  # as asked (auto too); each job holds what auto chose
            )
        added = ingest_chunk(session=self.session, batch=batch, router=router_, docs=docs)
        if self.batch is None:
            self.total = batch.total  # a resumed batch's earlier jobs
        self.batch, self.batch_id = batch, batch.id
        spans.annotate(batch_id=batch.id)  # on the request's span (the context is copied here)
        self.total += added.created
        return added

    def store(self, docs: list[BatchDocument]) -> Tally:
        """One NDJSON chunk in its own transaction: committed, or rolled back and raised."""
        if self.router is None:  # pragma: no cover - the upload begins with the header
            raise ApiError(422, "invalid_request", "line 1: the header line is missing")
        opened, opened_id, total = self.batch, self.batch_id, self.total
        try:
            added = self.flush(self.router, docs)
            self.session.commit()
        except BaseException:
            self.session.rollback()
            # a rolled-back first chunk opened nothing
            self.batch, self.batch_id, self.total = opened, opened_id, total
            raise
        return added

    def finish(self, tally: Tally) -> BatchAccepted:
        """Commit (a 202 means stored) and count; owe the batch webhook if nothing is left."""
        if self.batch is None:  # pragma: no cover - callers flush at least once
            raise ApiError(422, "no_documents", "the request holds no documents")
        # Unreadable documents fail at submission: a batch of only those is finished now.
        webhook_store.owe_for_batch(session=self.session, batch_id=self.batch.id)
        self.session.commit()
        self.session.refresh(self.batch)
        return _accepted(self.batch.id, self.batch.total, tally)

    def from_json(self, body: BatchCreate) -> BatchAccepted:
        """A JSON body: every chunk in one transaction."""
        router_ = self.route(body)
        for start in range(0, len(body.documents), CHUNK_ROWS):
            self.tally.add(self.flush(router_, body.documents[start : start + CHUNK_ROWS]))
        return self.finish(self.tally)

    async def from_ndjson(self, request: Request) -> BatchAccepted:
        """An NDJSON body, read line by line; each chunk is committed once it is full."""
        upload = NdjsonUpload(sink=self, limits=self.settings.app.limits)
        outcome = await upload.read(request.stream())
        batch_id = self.batch_id
        if batch_id is None:
            lines = outcome.rejected_lines
            first = f"; first: line {lines[0].line}: {lines[0].message}" if lines else ""
            raise ApiError(422, "no_documents", f"no valid document lines{first}")
        try:
            accepted = await run_in_threadpool(self.finish, outcome.tally)
        except Exception as exc:  # noqa: BLE001 - the documents are committed: say so
            await run_in_threadpool(self.session.rollback)
            name = type(exc).__name__
            log.error("batch_finish_failed", error_class=name)  # noqa: TRY400 - no values
            accepted = _accepted(batch_id, self.total, outcome.tally)
            if outcome.error is None:
                message = f"the documents are stored, but closing the upload failed ({name})"
                outcome.error = ErrorInfo(type="internal_error", message=message)
        return accepted.model_copy(
            update={
                "rejected": outcome.rejected,
                "rejected_lines": outcome.rejected_lines,
                "complete": outcome.stopped_at_line is None,
                "stopped_at_line": outcome.stopped_at_line,
                "error": outcome.error,
            }
        )


def _accepted(batch_id: uuid.UUID, total: int, tally: Tally) -> BatchAccepted:
    return BatchAccepted(
        id=batch_id,
        total=total,
        created=tally.created,
        duplicates=tally.duplicates,
        duplicate_batches=sorted(tally.duplicate_batches)[:MAX_LISTED],
    )


def _summary(session: Session, batch: Batch) -> BatchOut:
    return batch_out(batch, batch_store.summarize(session=session, batch=batch))


Instant = Annotated[str | None, Query(max_length=64, description="RFC 3339, with an offset")]


@router.get("", response_model=BatchPage, response_model_by_alias=True)
def list_batches(
    session: SessionDep,
    tenant: TenantDep,
    settings: SettingsDep,
    status: BatchStatus | None = None,
    created_after: Instant = None,
    created_before: Instant = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> BatchPage:
    """The tenant's batches, newest first, with keyset pagination on (created_at, id).

    Each item is what GET /v1/batches/{id} answers. `status` is derived from the jobs, the
    first that holds: `cancelled` (the batch was cancelled), `finished` (no job queued or
    running), `running` (some job running or ended), else `queued`. `created_after` and
    `created_before` are exclusive bounds on `created_at`.
    """
    after, before = (
        rfc3339("created_after", created_after),
        rfc3339("created_before", created_before),
    )
    if after and before and after >= before:
        raise ApiError(422, "invalid_range", "created_after must be before created_before")
    page = batch_pages.list_batches(
        session=session,
        tenant_id=tenant.id,
        limit=limit,
        status=status,
        created_after=after,
        created_before=before,
        before=decode_cursor(cursor) if cursor else None,
    )
    summaries = batch_store.summarize_many(session=session, batches=page.batches)
    switch = read_killswitch(settings.redis_url)  # once for the page
    return BatchPage(
        data=[batch_out(b, summaries[b.id], switch) for b in page.batches],
        next_cursor=encode_cursor(page.next_cursor) if page.next_cursor else None,
    )


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
    out = _summary(session, batch)
    # Committed before the answer: a request that follows it must see the cancel (the
    # session dependency's own commit may run after the response is sent).
    session.commit()
    return out


@router.post("/{batch_id}/retry", response_model=BatchOut, response_model_by_alias=True)
def retry_batch(batch_id: uuid.UUID, session: SessionDep, tenant: TenantDep) -> BatchOut:
    """Requeue the batch's failed and cancelled jobs (unreadable documents stay failed)."""
    batch = batch_store.get_batch(session=session, tenant_id=tenant.id, batch_id=batch_id)
    batch_store.retry(session=session, batch=batch)
    session.refresh(batch)
    out = _summary(session, batch)
    session.commit()  # before the answer, as for cancel
    return out
