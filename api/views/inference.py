"""Schema inference as plain functions, for POST /v1/extractors/infer and the console.

It runs as an ordinary job of the built-in `schema_inference` extractor, so it goes through
the same engine, is billed to the tenant and stays inside their budget.
"""

from __future__ import annotations

import uuid

from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from api.errors import ApiError
from api.intake.document import DocumentRouter, Prepared, decode, new_job, store_text
from schemas.config import Settings
from schemas.extractor_api import InferOut, InferRequest
from schemas.jobs import JobStatus
from storage import jobs as job_store
from storage.db import session_scope
from storage.models import Job
from tasks.documents.parse import ParsedDocument
from tasks.extractors.inference import INFERENCE_EXTRACTOR, proposed_schema, samples_document
from tasks.extractors.registry import resolve


async def start_inference(
    session: Session, tenant_id: uuid.UUID, body: InferRequest, settings: Settings
) -> uuid.UUID:
    """Parse the samples and queue the inference job; ApiError (422) for a bad sample."""
    cfg = settings.app.extractors
    if len(body.samples) > cfg.infer_max_samples:
        raise ApiError(422, "too_many_samples", f"give at most {cfg.infer_max_samples} samples")
    router_, base = await run_in_threadpool(_prepare, session, tenant_id, body, settings)
    await run_in_threadpool(session.commit)  # no pooled connection held while samples parse
    texts: list[tuple[str | None, str]] = []
    for index, sample in enumerate(body.samples, start=1):
        source = decode(
            text=sample.text,
            content_base64=sample.content_base64,
            max_bytes=settings.app.limits.max_document_bytes,
        )
        prep = await router_.prepare_async(source=source, filename=sample.filename)
        if prep.invalid is not None or prep.text is None:
            raise ApiError(422, "document_invalid", f"sample {index}: {prep.invalid}")
        texts.append((sample.filename, prep.text))
    text = samples_document(
        samples=texts, hint=body.hint, base=base, max_chars=cfg.infer_sample_chars
    )
    prep = router_.route(ParsedDocument(text=text, kind="text", pages=None))
    return await run_in_threadpool(_store, session, tenant_id, prep, len(texts))


def _prepare(
    session: Session, tenant_id: uuid.UUID, body: InferRequest, settings: Settings
) -> tuple[DocumentRouter, dict[str, object] | None]:
    base = None
    if body.base is not None:  # another tenant's name is unknown here, like everywhere
        base = resolve(session=session, tenant_id=tenant_id, ref=body.base).json_schema
    spec = resolve(session=session, tenant_id=tenant_id, ref=INFERENCE_EXTRACTOR)
    return DocumentRouter(spec=spec, tier=body.tier, config=settings.app), base


def _store(session: Session, tenant_id: uuid.UUID, prep: Prepared, samples: int) -> uuid.UUID:
    digest = store_text(session=session, prep=prep)
    job, _ = job_store.create_job(
        session=session,
        new=new_job(
            tenant_id=tenant_id,
            prep=prep,
            digest=digest,
            filename=None,
            meta={"purpose": INFERENCE_EXTRACTOR, "samples": samples},
            reuse=True,  # the same samples again cost nothing
        ),
    )
    session.commit()
    return job.id


def read_inference(tenant_id: uuid.UUID, job_id: uuid.UUID, settings: Settings) -> InferOut:
    """The inference as it stands now, read in a session of its own."""
    with session_scope(autocommit=True) as session:
        job = job_store.get_job(session=session, tenant_id=tenant_id, job_id=job_id)
        return inference_out(job, settings)


def inference_out(job: Job, settings: Settings) -> InferOut:
    """An inference job's answer: its schema once it succeeded; ApiError if it failed."""
    if job.schema_name != INFERENCE_EXTRACTOR:
        raise ApiError(404, "not_found", f"inference {job.id} not found")
    if job.status == JobStatus.FAILED:
        raise ApiError(
            422, "inference_failed", f"{job.error_type}: {job.error_message or 'failed'}"
        )
    if job.status != JobStatus.SUCCEEDED or job.result is None:
        return InferOut(job_id=job.id, status=job.status)
    schema = proposed_schema(job.result, limits=settings.app.extractors.limits)
    return InferOut(
        job_id=job.id,
        status=job.status,
        json_schema=schema,
        fields=len(schema["properties"]),
        cost_usd=job.cost_usd,
    )
