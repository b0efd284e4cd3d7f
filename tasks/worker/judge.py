"""The trust step after an extraction: evidence checked, confidence scored, review decided.

The engine returns the result with the model's quotes and its document-fit verdict; this
turns them into per-field verdicts (tasks/trust) and the job's terminal write. The policy
(threshold, self-consistency, what a mismatch does) was fixed on the job at submission.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from schemas.jobs import ErrorType, JobStatus
from schemas.trust.config import TrustConfig
from schemas.trust.fields import ReviewState
from storage.models import Job
from tasks.engine.models import Outcome
from tasks.trust.assess import assess, review_state, summarise
from tasks.worker.ports import Terminal, TrustRecord

__all__ = ["Policy", "judge", "policy_of", "reused"]


@dataclass(frozen=True, slots=True)
class Policy:
    """The trust settings one job runs under."""

    review_threshold: float
    verify: str
    on_mismatch: str

    @property
    def samples(self) -> int:
        """How many independent samples each chunk is asked for."""
        return 2 if self.verify == "self_consistency" else 1


def policy_of(job: Job, defaults: TrustConfig) -> Policy:
    """The job's snapshot of its policy, the TOML's defaults where it says nothing."""
    snap: dict[str, Any] = job.trust_policy or {}
    threshold = snap.get("review_threshold")
    return Policy(
        review_threshold=float(threshold) if threshold is not None else defaults.review_threshold,
        verify=str(snap.get("verify") or defaults.verify),
        on_mismatch=str(snap.get("on_mismatch") or defaults.on_mismatch),
    )


def judge(
    *,
    outcome: Outcome,
    text: str,
    job: Job,
    config: TrustConfig,
    ocr_words: Sequence[Sequence[float]] | None = None,
    warnings: Sequence[str] = (),
    ocr_pages: list[int] | None = None,
    evidence: bool = True,
    inferred: Sequence[str] = (),
) -> Terminal:
    """The terminal write for a finished extraction: succeeded (maybe for review) or mismatch.

    `evidence` False (an extractor whose answers quote nothing, like schema inference):
    no verdicts and no review. `inferred`: pointers of fields the model writes (summaries).
    """
    if not evidence:
        record = TrustRecord([], None, None, None, list(warnings), ocr_pages)
        return Terminal(
            JobStatus.SUCCEEDED, outcome.result, outcome.model, outcome.chunks, trust=record
        )
    policy = policy_of(job, config)
    fit = outcome.fit.model_dump() if outcome.fit is not None else None
    fields = assess(
        result=outcome.result,
        quotes=outcome.quotes,
        text=text,
        reasked=outcome.reasks > 0,
        chunk_results=outcome.chunk_results,
        second=outcome.second,
        ocr_words=[(int(w[0]), int(w[1]), float(w[2])) for w in ocr_words or ()],
        config=config,
        inferred=inferred,
    )
    state = review_state(fields, policy.review_threshold)
    record = TrustRecord(
        evidence=[f.model_dump(mode="json") for f in fields],
        confidence=summarise(fields),
        review_state=str(state),
        document_fit=fit,
        warnings=list(warnings),
        ocr_pages=ocr_pages,
    )
    if outcome.fit is not None and not outcome.fit.fits:
        reason = outcome.fit.reason.strip() or "no reason given"
        if policy.on_mismatch == "fail":
            message = f"the document does not fit the `{job.schema_name}` schema: {reason}"
            failed = TrustRecord([], None, None, fit, list(warnings), ocr_pages)
            return Terminal(
                JobStatus.FAILED,
                model=outcome.model,
                chunks=outcome.chunks,
                error_type=str(ErrorType.DOCUMENT_MISMATCH),
                error_message=message[:500],
                trust=failed,
            )
        # The tenant prefers a person to decide: the result stands, and waits for review.
        record = dataclasses.replace(record, review_state=str(ReviewState.PENDING))
    return Terminal(
        JobStatus.SUCCEEDED, outcome.result, outcome.model, outcome.chunks, trust=record
    )


def reused(*, earlier: Job, job: Job, config: TrustConfig) -> TrustRecord:
    """An earlier identical extraction's verdicts, under this job's review threshold."""
    policy = policy_of(job, config)
    confidence = earlier.confidence
    pending = confidence is not None and confidence < policy.review_threshold
    state = ReviewState.PENDING if pending else ReviewState.NOT_NEEDED
    return TrustRecord(
        evidence=list(earlier.evidence or []),
        confidence=confidence,
        review_state=str(state),
        document_fit=earlier.document_fit,
        warnings=list(earlier.warnings or []),
        ocr_pages=earlier.ocr_pages,
    )
