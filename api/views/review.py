"""Review views: queue items, audit rows, labels, and the check a corrected result must pass."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import ValidationError
from sqlalchemy.orm import Session

from api.errors import ApiError
from schemas.batch_api import KEY_PREFIX
from schemas.trust.envelope import DocumentFit
from schemas.trust.fields import FieldOut, pointer
from schemas.trust.review_api import LabelItem, ReviewItem, ReviewOut
from storage import extractors as extractor_store
from storage.models import Job
from storage.reviews import Check, Label
from storage.trust_models import JobReview
from tasks.extractors.registry import spec_for_job

MAX_PROBLEMS = 5
MAX_MESSAGE = 1000


def review_item(job: Job) -> ReviewItem:
    """A job in the review queue."""
    return ReviewItem(
        job_id=job.id,
        batch_id=job.batch_id,
        extractor=job.schema_name,
        version=job.schema_version,
        extractor_version_id=job.extractor_version_id,
        filename=job.filename,
        confidence=job.confidence,
        result=job.result,
        fields=[FieldOut.model_validate(f) for f in job.evidence or []],
        document_fit=DocumentFit.model_validate(job.document_fit) if job.document_fit else None,
        result_version=job.result_version or 1,
        created_at=job.created_at,
    )


def review_out(row: JobReview) -> ReviewOut:
    """One audit row."""
    return ReviewOut.model_validate(row, from_attributes=True)


def label_item(row: Label) -> LabelItem:
    """One reviewed job, as an eval set's line."""
    stored = row.idempotency_key
    in_batch = row.batch_id is not None and stored is not None and stored.startswith(KEY_PREFIX)
    return LabelItem(
        job_id=row.id,
        batch_id=row.batch_id,
        idempotency_key=stored,
        key=stored.removeprefix(KEY_PREFIX) if in_batch and stored else None,
        filename=row.filename,
        extractor=row.schema_name,
        version=row.schema_version,
        extractor_version_id=row.extractor_version_id,
        review_state=row.review_state,  # the query keeps only these
        result=row.result,
        original_result=row.original_result,
        result_version=row.result_version,
        reviewed_at=row.reviewed_at,
    )


def result_check(session: Session, corrected: Sequence[str]) -> Check:
    """The check of storage.reviews.review: the job's own extractor version validates.

    `spec.model` is the Pydantic model the engine validated the extraction with, so a
    correction passes the same field and cross-field checks (invoice totals) as an answer.
    """

    def check(job: Job, result: dict[str, Any]) -> dict[str, Any]:
        spec = spec_for_job(
            job, lambda vid: extractor_store.load_version(session=session, version_id=vid)
        )
        try:
            model = spec.model.model_validate(result)
        except ValidationError as exc:
            raise ApiError(422, "correction_invalid", _message(spec.ref, exc, corrected)) from None
        dumped: dict[str, Any] = model.model_dump(mode="json")
        return dumped

    return check


def _message(ref: str, exc: ValidationError, corrected: Sequence[str]) -> str:
    problems = []
    for err in exc.errors()[:MAX_PROBLEMS]:
        where = pointer(tuple(err.get("loc", ()))) or "the result"  # () is a cross-field check
        problems.append(f"{where}: {err.get('msg', 'invalid')}")
    # The pointers first: a long problem list is cut, never the names of the corrections.
    message = (
        f"corrections {', '.join(corrected)}: the corrected result does not fit {ref}: "
        + "; ".join(problems)
    )
    return message[:MAX_MESSAGE]
