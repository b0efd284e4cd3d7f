"""Map stored rows to API models."""

from __future__ import annotations

from schemas.api import ErrorInfo, JobOut, Usage
from schemas.trust.envelope import DocumentFit
from schemas.trust.fields import FieldOut
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
        lane=job.lane,
        lane_reason=job.lane_reason,
        deadline=job.deadline,
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
        fields=[FieldOut.model_validate(f) for f in job.evidence] if job.evidence else None,
        confidence=job.confidence,
        review_state=job.review_state,
        original_result=job.original_result,
        result_version=job.result_version or 1,
        document_fit=DocumentFit.model_validate(job.document_fit) if job.document_fit else None,
        warnings=list(job.warnings or []),
        ocr_pages=job.ocr_pages,
        error=error,
        usage=Usage.model_validate(job, from_attributes=True),
        metadata=job.meta,
        filename=job.filename,
        batch_id=job.batch_id,
        created_at=job.created_at,
        started_at=job.started_at,
        finished_at=job.finished_at,
    )
