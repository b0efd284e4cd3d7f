"""Review verbs on real Postgres: versions, originals, audit rows, the row lock, evidence."""

from __future__ import annotations

import itertools
import threading
import uuid
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import OperationalError

from schemas.extraction.invoice import Invoice
from schemas.jobs import JobStatus
from storage import reviews
from storage.corrections import CorrectionError
from storage.db import session_scope
from storage.errors import InvalidState, NotFound
from storage.models import Job
from storage.trust_models import JobReview
from tests.integration.storage.review_seed import INVOICE, LOW, seed_job, tenant

WHO = reviews.Reviewer("abcd1234", None)
RAISE = {"/line_items/0/unit_price": 60, "/line_items/0/amount": 120, "/subtotal": 120}


def invoice_check(_job: Job, result: dict[str, Any]) -> dict[str, Any]:
    """What the API checks with for a built-in invoice: the model, then its JSON dump."""
    return Invoice.model_validate(result).model_dump(mode="json")


def _seeded(pg_url: str, **kwargs: Any) -> tuple[uuid.UUID, uuid.UUID]:
    with session_scope(pg_url) as session:
        tenant_id, _ = tenant(session)
        return tenant_id, seed_job(session, tenant_id, **kwargs)


def _review(pg_url: str, tenant_id: uuid.UUID, job_id: uuid.UUID, corrections: Any) -> Job:
    with session_scope(pg_url) as session:
        return reviews.review(
            session=session,
            tenant_id=tenant_id,
            job_id=job_id,
            corrections=corrections,
            reviewer=WHO,
            check=invoice_check,
        )


def _trail(pg_url: str, job_id: uuid.UUID) -> list[JobReview]:
    with session_scope(pg_url) as session:
        rows = session.scalars(select(JobReview).where(JobReview.job_id == job_id))
        return sorted(rows, key=lambda r: r.id)


def test_a_correction_keeps_the_extraction_bumps_the_version_and_writes_an_audit_row(
    pg_url: str,
) -> None:
    tenant_id, job_id = _seeded(pg_url)
    job = _review(pg_url, tenant_id, job_id, {**RAISE, "/total": 125})
    assert job.review_state == "corrected"
    assert job.result_version == 2
    assert job.original_result == INVOICE
    assert job.result is not None
    assert (job.result["subtotal"], job.result["total"]) == (120.0, 125.0)
    [row] = _trail(pg_url, job_id)
    assert (row.action, row.version, row.reviewer) == ("corrected", 2, "abcd1234")
    assert row.corrections["/total"] == {"before": 105.0, "after": 125.0}
    assert row.before == INVOICE
    assert row.after == job.result


def test_a_second_correction_keeps_the_first_extraction_as_the_original(pg_url: str) -> None:
    tenant_id, job_id = _seeded(pg_url)
    _review(pg_url, tenant_id, job_id, {"/vendor/name": "Acme GmbH"})
    job = _review(pg_url, tenant_id, job_id, {"/vendor/name": "Acme AG"})
    assert job.original_result == INVOICE
    assert job.result is not None
    assert job.result["vendor"]["name"] == "Acme AG"
    assert job.result_version == 3
    trail = _trail(pg_url, job_id)
    assert [r.version for r in trail] == [2, 3]
    assert trail[1].corrections == {"/vendor/name": {"before": "Acme GmbH", "after": "Acme AG"}}


def test_an_approval_leaves_the_result_and_records_an_approved_review(pg_url: str) -> None:
    tenant_id, job_id = _seeded(pg_url)
    job = _review(pg_url, tenant_id, job_id, {})
    assert (job.review_state, job.result_version) == ("approved", 2)
    assert job.result == INVOICE
    assert job.original_result is None
    [row] = _trail(pg_url, job_id)
    assert (row.action, row.corrections, row.before, row.after) == (
        "approved",
        {},
        INVOICE,
        INVOICE,
    )


def test_approving_a_corrected_job_keeps_it_corrected_with_its_original(pg_url: str) -> None:
    tenant_id, job_id = _seeded(pg_url)
    _review(pg_url, tenant_id, job_id, {"/invoice_number": "INV-8"})
    job = _review(pg_url, tenant_id, job_id, {})
    assert (job.review_state, job.result_version) == ("corrected", 3)
    assert job.original_result == INVOICE
    assert [r.action for r in _trail(pg_url, job_id)] == ["corrected", "approved"]


def test_corrected_fields_get_full_confidence_and_a_reviewed_signal_others_keep_theirs(
    pg_url: str,
) -> None:
    tenant_id, job_id = _seeded(pg_url)
    job = _review(pg_url, tenant_id, job_id, {"/total": 105.0, "/due_date": "2026-02-01"})
    fields = {f["path"]: f for f in job.evidence or []}
    assert fields["/total"]["confidence"] == 1.0
    assert fields["/total"]["signals"] == {"quote": 1.0, "reviewed": 1.0}
    assert fields["/total"]["support"] == "verified"  # what the extraction's quote showed
    assert fields["/due_date"]["value"] == "2026-02-01"
    assert fields["/due_date"]["signals"]["reviewed"] == 1.0
    assert fields["/subtotal"]["confidence"] == 0.9
    assert "reviewed" not in fields["/subtotal"]["signals"]
    assert job.confidence == 0.9  # the lowest field's, now that /total was looked at
    assert job.confidence > LOW


def test_replacing_a_list_item_rewrites_the_evidence_beneath_it(pg_url: str) -> None:
    tenant_id, job_id = _seeded(pg_url)
    item = {"description": "Gadgets", "quantity": 1, "unit_price": 100, "amount": 100}
    job = _review(pg_url, tenant_id, job_id, {"/line_items/0": item})
    fields = {f["path"]: f for f in job.evidence or []}
    assert fields["/line_items/0/description"]["value"] == "Gadgets"
    assert fields["/line_items/0/quantity"]["value"] == 1.0
    assert all(f["confidence"] == 1.0 for p, f in fields.items() if p.startswith("/line_items/0/"))


@pytest.mark.parametrize(
    "pointer",
    ["/vendor/nope/deeper", "/line_items/3", "/line_items/01", "/total/x", "total", "/"],
)
def test_a_pointer_that_names_no_field_is_refused_and_nothing_is_written(
    pg_url: str, pointer: str
) -> None:
    tenant_id, job_id = _seeded(pg_url)
    with pytest.raises(CorrectionError) as caught:
        _review(pg_url, tenant_id, job_id, {pointer: 1})
    assert pointer in caught.value.message
    assert caught.value.type in ("invalid_pointer", "correction_invalid")
    assert _trail(pg_url, job_id) == []
    with session_scope(pg_url) as session:
        row = session.get(Job, job_id)
        assert row is not None
        assert (row.result, row.result_version, row.review_state) == (INVOICE, 1, "pending")


def test_a_key_the_schema_does_not_know_is_refused_because_it_would_be_dropped(
    pg_url: str,
) -> None:
    tenant_id, job_id = _seeded(pg_url)
    with pytest.raises(CorrectionError) as caught:
        _review(pg_url, tenant_id, job_id, {"/notes": "paid in cash"})
    assert caught.value.type == "correction_invalid"
    assert "/notes" in caught.value.message


def test_another_tenants_job_is_not_found_and_stays_untouched(pg_url: str) -> None:
    _, job_id = _seeded(pg_url)
    other, _ = _seeded(pg_url)
    with pytest.raises(NotFound):
        _review(pg_url, other, job_id, {"/invoice_number": "X"})
    assert _trail(pg_url, job_id) == []


def test_a_job_that_did_not_succeed_cannot_be_reviewed(pg_url: str) -> None:
    tenant_id, job_id = _seeded(pg_url, status=JobStatus.FAILED, review_state=None)
    with pytest.raises(InvalidState):
        _review(pg_url, tenant_id, job_id, {})


def test_the_job_row_stays_locked_while_the_corrected_result_is_checked(pg_url: str) -> None:
    tenant_id, job_id = _seeded(pg_url)
    checking, release = threading.Event(), threading.Event()

    def slow_check(job: Job, result: dict[str, Any]) -> dict[str, Any]:
        checking.set()
        assert release.wait(10)
        return invoice_check(job, result)

    def run() -> None:
        with session_scope(pg_url) as session:
            reviews.review(
                session=session,
                tenant_id=tenant_id,
                job_id=job_id,
                corrections={"/invoice_number": "INV-9"},
                reviewer=WHO,
                check=slow_check,
            )

    worker = threading.Thread(target=run)
    worker.start()
    try:
        assert checking.wait(10)
        with session_scope(pg_url) as session, pytest.raises(OperationalError, match="lock"):
            session.execute(
                text("SELECT id FROM jobs WHERE id = :id FOR UPDATE NOWAIT"), {"id": job_id}
            )
    finally:
        release.set()
        worker.join(10)
    with session_scope(pg_url) as session:
        row = session.get(Job, job_id)
        assert row is not None
        assert row.result is not None
        assert (row.result["invoice_number"], row.result_version) == ("INV-9", 2)


def test_concurrent_reviews_apply_one_after_the_other_each_a_new_version(pg_url: str) -> None:
    tenant_id, job_id = _seeded(pg_url)
    names = [f"Vendor {i}" for i in range(4)]
    threads = [
        threading.Thread(target=_review, args=(pg_url, tenant_id, job_id, {"/vendor/name": n}))
        for n in names
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    trail = _trail(pg_url, job_id)
    assert [r.version for r in trail] == [2, 3, 4, 5]
    # each review saw the result the one before it wrote
    for earlier, later in itertools.pairwise(trail):
        assert later.before == earlier.after
    assert trail[0].before == INVOICE
