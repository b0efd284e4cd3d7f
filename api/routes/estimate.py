"""/v1/estimate: what POST /v1/batches would cost and take, without calling a provider."""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter, Request
from pydantic import ValidationError
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from api.deps import SessionDep, SettingsDep, TenantDep
from api.errors import ApiError
from api.intake.batch import BatchRouter
from api.intake.document import check_webhook_url
from api.intake.policy import trust_policy
from api.views.batches import BODY_DOC, validation_reason
from api.views.estimate import Ledger, estimate_out, samples_of
from schemas.batch_api import NDJSON_TYPES, BatchCreate, media_type
from schemas.config import Settings
from schemas.estimate_api import EstimateOut
from storage import estimates as ledger_store
from storage.models import Tenant
from tasks.extractors.registry import resolve

router = APIRouter(prefix="/v1/estimate", tags=["batches"])

HISTORY_DAYS = 30  # the ledger window for output sizes, re-asks and call durations
# POST /v1/batches's documented body, JSON only: an estimate takes no NDJSON upload.
JSON_BODY = {
    "requestBody": {
        **BODY_DOC["requestBody"],
        "content": {"application/json": BODY_DOC["requestBody"]["content"]["application/json"]},
    }
}


@router.post("", response_model=EstimateOut, response_model_by_alias=True, openapi_extra=JSON_BODY)
async def estimate(
    request: Request, session: SessionDep, tenant: TenantDep, settings: SettingsDep
) -> EstimateOut:
    """Estimate a POST /v1/batches body (JSON): per document its tokens, tier and lane; per
    lane the expected tokens, cost (USD, Decimal strings) and ETA; the re-ask overhead.

    Documents are read and measured exactly as a submission reads them; nothing is stored
    and no provider is called. Output tokens come from the tenant's finished jobs of the
    extractor and tier (at least 20 in the last 30 days), else a quarter of the tier's
    `max_output_tokens` (with that history, the share of input the provider served from its
    prompt cache is priced as cached, else none is); input tokens are the document's plus
    what the engine adds to every call (prompt, evidence note, tool definition). Re-asks:
    the share r of the tenant's calls that failed validation in the last 30 days adds
    r / (1 - r) calls per call. ETA,
    realtime: per tier, the slower of (queued realtime tokens of every tenant + these) /
    tokens_per_minute and (queued jobs + these calls) x mean call time / concurrency, at
    the tier's first model; the slowest tier wins. Batch: the `[batch_lane]` window.
    Errors are those of POST /v1/batches: 415 for other bodies (NDJSON too), 422 with its
    types (`invalid_request`, `unknown_schema`, `deadline_too_soon`, ...).
    """
    media = media_type(request.headers.get("content-type", ""))
    if media in NDJSON_TYPES:
        raise ApiError(415, "unsupported_media_type", "estimates take a JSON body")
    if media not in ("application/json", ""):
        raise ApiError(415, "unsupported_media_type", "send application/json")
    try:
        body = BatchCreate.model_validate_json(await request.body())
    except ValidationError as exc:
        raise ApiError(422, "invalid_request", validation_reason(exc)) from exc
    return await run_in_threadpool(_estimate, session, tenant, settings, body)


def _estimate(
    session: Session, tenant: Tenant, settings: Settings, body: BatchCreate
) -> EstimateOut:
    """The estimate, off the event loop: documents are parsed as a submission parses them."""
    config = settings.app
    check_webhook_url(body.webhook_url, allow_private=settings.webhook_allow_private)
    spec = resolve(session=session, tenant_id=tenant.id, ref=body.schema_name)
    policy = trust_policy(session=session, tenant=tenant, spec=spec, body=body)
    batch_router = BatchRouter(header=body, spec=spec, config=config, trust_policy=policy)
    preps = [batch_router.prepare(doc) for doc in body.documents]
    now = dt.datetime.now(dt.UTC)
    since = now - dt.timedelta(days=HISTORY_DAYS)
    ledger = Ledger(
        outputs=ledger_store.output_history(
            session=session, tenant_id=tenant.id, schema_name=spec.name, since=since
        ),
        reasks=ledger_store.reask_history(session=session, tenant_id=tenant.id, since=since),
        queue=ledger_store.queue_depth(session=session),
        call_s=ledger_store.call_seconds(session=session, since=since),
        days=HISTORY_DAYS,
    )
    return estimate_out(
        spec=spec,
        plan=batch_router.lane,
        docs=body.documents,
        preps=preps,
        samples=samples_of(policy, config),
        ledger=ledger,
        config=config,
        day=now.date(),
    )
