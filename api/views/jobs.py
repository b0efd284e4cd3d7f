"""Map stored rows to API models."""

from __future__ import annotations

from schemas.api import ErrorInfo, JobOut, Usage
from storage.models import Job


def job_out(job: Job) -> JobOut:
    """The public view of a job."""
    error = (
        ErrorInfo(type=job.error_type, message=job.error_message or "") if job.error_type else None
    )
    return JobOut(
        id=job.id,
        status=job.status,
        tier=job.tier,
        tier_reason=job.tier_reason,
        schema_name=job.schema_name,
        schema_version=job.schema_version,
        prompt_version=job.prompt_version,
        extractor_version_id=job.extractor_version_id,
        schema_hash=job.schema_hash,
        prompt_hash=job.prompt_hash,
        model=job.model,
        attempts=job.attempts,
        chunks=job.chunks,
        cache_hit=job.cache_hit,
        result=job.result,
        error=error,
        usage=Usage.model_validate(job, from_attributes=True),
        metadata=job.meta,
        filename=job.filename,
        batch_id=job.batch_id,
        created_at=job.created_at,
        started_at=job.started_at,
        finished_at=job.finished_at,
    )
