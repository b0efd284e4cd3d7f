"""The trust step's terminal write: a mismatched document fails (or waits for review), a
weak field sends the job to review, and logs keep no model-written words."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

import pytest

from schemas.jobs import ErrorType, JobStatus
from schemas.trust.config import TrustConfig
from schemas.trust.envelope import DocumentFit
from schemas.trust.fields import ReviewState
from storage.models import Job
from tasks.engine.models import Outcome
from tasks.worker.finished import loggable_error
from tasks.worker.judge import Policy, judge, policy_of
from tasks.worker.ports import Terminal

TEXT = "Invoice INV-7 from Acme GmbH.\nQuarterly memo: revenue grew by ten percent."
RESULT = {"invoice_number": "INV-7", "vendor": "Acme GmbH"}
QUOTES = [("/invoice_number", "Invoice INV-7"), ("/vendor", "from Acme GmbH")]
FITS = DocumentFit(fits=True, reason="an invoice")
LICENCE = DocumentFit(fits=False, reason="a driving licence issued to Jane Roe")


def _job(policy: dict[str, Any] | None = None) -> Job:
    return Job(id=uuid.uuid4(), schema_name="invoice@1", trust_policy=policy)


def _outcome(
    *,
    result: dict[str, Any] | None = None,
    quotes: Sequence[tuple[str, str]] = QUOTES,
    fit: DocumentFit | None = FITS,
) -> Outcome:
    return Outcome(
        result=dict(RESULT if result is None else result),
        model="gpt-5.6-luna",
        chunks=1,
        quotes=list(quotes),
        fit=fit,
    )


def _judge(outcome: Outcome, job: Job | None = None, **kwargs: Any) -> Terminal:
    return judge(outcome=outcome, text=TEXT, job=job or _job(), config=TrustConfig(), **kwargs)


def _supports(terminal: Terminal) -> dict[str, str]:
    assert terminal.trust is not None
    return {e["path"]: e["support"] for e in terminal.trust.evidence}


def test_a_mismatched_document_fails_under_the_default_policy_without_a_result() -> None:
    terminal = _judge(_outcome(fit=LICENCE), warnings=["page 3 was not read"])
    assert terminal.status == JobStatus.FAILED
    assert terminal.error_type == "document_mismatch"
    assert terminal.error_message is not None
    assert "`invoice@1`" in terminal.error_message
    assert terminal.error_message.endswith(LICENCE.reason)
    assert terminal.result is None
    assert terminal.trust is not None
    assert terminal.trust.evidence == []
    assert terminal.trust.review_state is None
    assert terminal.trust.document_fit == {"fits": False, "reason": LICENCE.reason}
    assert terminal.trust.warnings == ["page 3 was not read"]


def test_a_mismatch_without_a_reason_still_says_so() -> None:
    terminal = _judge(_outcome(fit=DocumentFit(fits=False, reason="  ")))
    assert terminal.error_message is not None
    assert terminal.error_message.endswith(": no reason given")


def test_a_tenant_that_reviews_mismatches_gets_the_result_pending_review() -> None:
    terminal = _judge(_outcome(fit=LICENCE), _job({"on_mismatch": "review"}))
    assert terminal.status == JobStatus.SUCCEEDED
    assert terminal.result == RESULT
    assert terminal.error_type is None
    assert terminal.trust is not None
    assert terminal.trust.review_state == ReviewState.PENDING
    assert terminal.trust.document_fit == {"fits": False, "reason": LICENCE.reason}
    assert _supports(terminal) == {"/invoice_number": "verified", "/vendor": "verified"}


def test_a_well_quoted_result_needs_no_review() -> None:
    terminal = _judge(_outcome())
    assert terminal.status == JobStatus.SUCCEEDED
    assert terminal.trust is not None
    assert terminal.trust.review_state == ReviewState.NOT_NEEDED
    assert terminal.trust.confidence is not None
    assert terminal.trust.confidence >= TrustConfig().review_threshold


def test_a_field_without_evidence_sends_the_job_to_review() -> None:
    terminal = _judge(_outcome(quotes=QUOTES[:1]))
    assert terminal.trust is not None
    assert _supports(terminal) == {"/invoice_number": "verified", "/vendor": "unsupported"}
    assert terminal.trust.review_state == ReviewState.PENDING


def test_the_jobs_own_review_threshold_decides_review() -> None:
    base = _judge(_outcome()).trust
    assert base is not None
    assert base.confidence is not None
    assert base.review_state == ReviewState.NOT_NEEDED
    strict = _judge(_outcome(), _job({"review_threshold": base.confidence + 0.01}))
    lenient = _judge(_outcome(quotes=[]), _job({"review_threshold": 0.0}))
    assert strict.trust is not None
    assert lenient.trust is not None
    assert strict.trust.review_state == ReviewState.PENDING
    assert lenient.trust.review_state == ReviewState.NOT_NEEDED  # 0 is a threshold, not unset


def test_an_extractor_without_evidence_gets_no_verdicts_and_no_review() -> None:
    terminal = _judge(_outcome(quotes=[], fit=LICENCE), evidence=False, ocr_pages=[2])
    assert terminal.status == JobStatus.SUCCEEDED
    assert terminal.result == RESULT
    assert terminal.trust is not None
    assert terminal.trust.evidence == []
    assert terminal.trust.review_state is None
    assert terminal.trust.confidence is None
    assert terminal.trust.document_fit is None
    assert terminal.trust.ocr_pages == [2]


def test_a_paraphrased_summary_with_a_located_quote_is_supported_when_inferred() -> None:
    outcome = _outcome(
        result={"summary": "Sales went up this quarter."},
        quotes=[("/summary", "revenue grew by ten percent")],
    )
    written = _judge(outcome, inferred=["/summary"])
    copied = _judge(outcome)
    assert _supports(written) == {"/summary": "verified"}
    assert _supports(copied) == {"/summary": "unsupported"}
    assert written.trust is not None
    start, end = written.trust.evidence[0]["start"], written.trust.evidence[0]["end"]
    assert TEXT[start:end].startswith("revenue grew by ten percent")  # whole words
    assert written.trust.review_state == ReviewState.NOT_NEEDED


def test_policy_of_reads_the_jobs_snapshot() -> None:
    snapshot = {"review_threshold": 0.8, "verify": "self_consistency", "on_mismatch": "review"}
    policy = policy_of(_job(snapshot), TrustConfig())
    assert policy == Policy(review_threshold=0.8, verify="self_consistency", on_mismatch="review")
    assert policy.samples == 2


@pytest.mark.parametrize("snapshot", [None, {}, {"review_threshold": None, "verify": ""}])
def test_policy_of_falls_back_to_the_toml_where_the_snapshot_says_nothing(
    snapshot: dict[str, Any] | None,
) -> None:
    defaults = TrustConfig(review_threshold=0.42, verify="self_consistency", on_mismatch="review")
    policy = policy_of(_job(snapshot), defaults)
    assert policy == Policy(review_threshold=0.42, verify="self_consistency", on_mismatch="review")
    assert policy_of(_job(snapshot), TrustConfig()).samples == 1


def test_a_zero_threshold_in_the_snapshot_is_kept() -> None:
    assert policy_of(_job({"review_threshold": 0}), TrustConfig()).review_threshold == 0.0


def test_a_mismatch_logs_only_our_words_not_what_the_model_read() -> None:
    terminal = _judge(_outcome(fit=LICENCE))
    logged = loggable_error(terminal.error_type, terminal.error_message)
    assert logged == "the document does not fit the `invoice@1` schema"
    assert "Jane" not in (logged or "")


def test_other_error_messages_are_logged_as_their_type_allows() -> None:
    assert loggable_error(ErrorType.DOCUMENT_MISMATCH, None) is None
    assert loggable_error(ErrorType.INTERNAL, "KeyError: 'Acme GmbH'") == "KeyError"
    assert loggable_error(ErrorType.PROVIDER_ERROR, "gpt: http_503") == "gpt: http_503"
