"""Schema inference: sample documents in, a proposed JSON Schema out (not saved).

The work is in api/views/inference.py (the console's inference page uses it too). The
route waits a bounded time for the job, then answers 202 with the job id to poll.
"""

from __future__ import annotations

import asyncio
import time
import uuid

from fastapi import APIRouter, Response
from starlette.concurrency import run_in_threadpool

from api.deps import ReadSessionDep, ReadTenantDep, SessionDep, SettingsDep, TenantDep
from api.views import inference as inferring
from schemas.extractor_api import InferOut, InferRequest
from schemas.jobs import TERMINAL
from storage import jobs as job_store

router = APIRouter(prefix="/v1/extractors", tags=["extractors"])
POLL_S = 0.25


@router.post("/infer", response_model=InferOut)
async def infer(
    body: InferRequest,
    response: Response,
    session: SessionDep,
    tenant: TenantDep,
    settings: SettingsDep,
) -> InferOut:
    """Propose a schema from 1-5 samples (200), or 202 with the job id if it takes longer."""
    tenant_id = tenant.id
    job_id = await inferring.start_inference(session, tenant_id, body, settings)
    deadline = time.monotonic() + settings.app.extractors.infer_wait_s
    while True:
        out = await run_in_threadpool(inferring.read_inference, tenant_id, job_id, settings)
        if out.status in TERMINAL or time.monotonic() >= deadline:
            break
        await asyncio.sleep(POLL_S)
    if out.status not in TERMINAL:
        response.status_code = 202
    return out


@router.get("/infer/{job_id}", response_model=InferOut)
def read_inference(
    job_id: uuid.UUID,
    response: Response,
    session: ReadSessionDep,
    tenant: ReadTenantDep,
    settings: SettingsDep,
) -> InferOut:
    """An inference's state; its schema once the job succeeded (202 while it runs)."""
    job = job_store.get_job(session=session, tenant_id=tenant.id, job_id=job_id)
    out = inferring.inference_out(job, settings)
    if out.status not in TERMINAL:
        response.status_code = 202
    return out
