"""/v1/jobs: submit, read, list, retry."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Response
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from api.deps import ReadSessionDep, ReadTenantDep, SessionDep, SettingsDep, TenantDep
from api.errors import ApiError
from api.intake.document import (
    DocumentRouter,
    Prepared,
    check_webhook_url,
    decode,
    new_job,
    request_hash,
    store_text,
)
from api.intake.lanes import LanePlan, plan_lane
from api.intake.policy import hashed_body, trust_policy
from api.paging import decode_cursor, encode_cursor
from api.views.jobs import job_out
from schemas.api import JobCreate, JobOut, JobPage
from schemas.config import Settings
from schemas.jobs import JobStatus
from storage import jobs as job_store
from storage import pages
from storage import webhooks as webhook_store
from storage.models import Tenant
from tasks.documents.sandbox import LIMIT_REASONS
from tasks.extractors.registry import resolve
from tasks.observability import spans

router = APIRouter(prefix="/v1/jobs", tags=["jobs"])


@router.post("", status_code=202, response_model=JobOut, response_model_by_alias=True)
async def create_job(
    body: JobCreate,
    response: Response,
    session: SessionDep,
    tenant: TenantDep,
    settings: SettingsDep,
    idempotency_key: Annotated[str | None, Header(max_length=255)] = None,
) -> JobOut:
    """Queue one document for extraction (202), or replay an idempotent request (200).

    A document over the parse limits (time, memory) is refused with 422 `document_invalid`;
    any other unreadable document becomes a job that failed at submission.
    """
    tenant_id = tenant.id
    router_, source, prep, policy, lane = await run_in_threadpool(
        _intake, session, tenant, body, settings
    )
    if prep is None:  # PDF, DOCX, HTML: parsed in the sandbox, awaited off the event loop
        await run_in_threadpool(session.commit)  # no pooled connection held while it parses
        prep = await router_.prepare_async(source=source, filename=body.filename)
    if prep.invalid is not None and prep.invalid.reason in LIMIT_REASONS:
        raise ApiError(422, "document_invalid", str(prep.invalid))
    out, created = await run_in_threadpool(
        _store, session, tenant_id, body, prep, idempotency_key, policy, lane
    )
    # Committed before the answer: a dependency's exit may run after the response is sent,
    # and a 202 must mean the job is stored (a client may read it back at once).
    await run_in_threadpool(session.commit)
    if not created:
        response.status_code = 200
    return out


def _intake(
    session: Session, tenant: Tenant, body: JobCreate, settings: Settings
) -> tuple[DocumentRouter, bytes | str, Prepared | None, dict[str, Any], LanePlan]:
    """Check and decode the body; parse it now unless it needs the sandbox (then None).

    Also fixes the job's trust policy (api.intake.policy), before any commit expires `tenant`,
    and its lane (api.intake.lanes: a deadline it cannot meet is a 422 before any parse).
    """
    config = settings.app
    check_webhook_url(body.webhook_url, allow_private=settings.webhook_allow_private)
    lane = plan_lane(body, config)
    source = decode(
        text=body.text,
        content_base64=body.content_base64,
        max_bytes=config.limits.max_document_bytes,
    )
    spec = resolve(session=session, tenant_id=tenant.id, ref=body.schema_name)
    policy = trust_policy(session=session, tenant=tenant, spec=spec, body=body)
    router_ = DocumentRouter(spec=spec, tier=body.tier, config=config)
    prep = router_.prepare_inline(source=source, filename=body.filename)
    return router_, source, prep, policy, lane


def _store(
    session: Session,
    tenant_id: uuid.UUID,
    body: JobCreate,
    prep: Prepared,
    idempotency_key: str | None,
    policy: dict[str, Any],
    lane: LanePlan,
) -> tuple[JobOut, bool]:
    """Store the document and its job; owe the webhook of a job that failed at submission."""
    digest = store_text(session=session, prep=prep)
    job, created = job_store.create_job(
        session=session,
        new=new_job(
            tenant_id=tenant_id,
            prep=prep,
            digest=digest,
            filename=body.filename,
            meta=body.metadata,
            reuse=body.reuse,
            idempotency_key=idempotency_key,
            request_hash=request_hash(hashed_body(body)) if idempotency_key else None,
            webhook_url=body.webhook_url,
            trust_policy=policy,
            lane=lane,
        ),
    )
    spans.annotate(job_id=job.id)  # on the request's span (the threadpool copies the context)
    if created and prep.invalid:  # finished at submission: owe its webhook; the scheduler sends it
        webhook_store.owe_for_job(session=session, job=job)
    return job_out(job), created


@router.get("/{job_id}", response_model=JobOut, response_model_by_alias=True)
def read_job(job_id: uuid.UUID, session: ReadSessionDep, tenant: ReadTenantDep) -> JobOut:
    """One of the tenant's jobs; any other id is 404."""
    return job_out(job_store.get_job(session=session, tenant_id=tenant.id, job_id=job_id))


@router.post("/{job_id}/retry", response_model=JobOut, response_model_by_alias=True)
def retry_job(job_id: uuid.UUID, session: SessionDep, tenant: TenantDep) -> JobOut:
    """Requeue a failed or cancelled job (e.g. after raising the budget)."""
    return job_out(job_store.retry(session=session, tenant_id=tenant.id, job_id=job_id))


@router.get("", response_model=JobPage, response_model_by_alias=True)
def list_jobs(
    session: SessionDep,
    tenant: TenantDep,
    batch_id: uuid.UUID | None = None,
    status: JobStatus | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> JobPage:
    """The tenant's jobs, oldest first, with keyset pagination on (created_at, id)."""
    page = pages.list_jobs(
        session=session,
        tenant_id=tenant.id,
        limit=limit,
        batch_id=batch_id,
        status=status,
        after=decode_cursor(cursor) if cursor else None,
    )
    nxt = encode_cursor(page.next_cursor) if page.next_cursor else None
    return JobPage(items=[job_out(j) for j in page.jobs], next_cursor=nxt)
