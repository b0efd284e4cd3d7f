"""Human review over a real API and Postgres: the queue, corrections, audit, exports, labels."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from storage.extractor_models import Extractor, ExtractorVersion
from tests.e2e.api import review_stack as seed
from tests.e2e.api.json_errors import assert_json_error
from tests.e2e.api.review_stack import CLAIM, CLAIMS, MORE
from tests.integration.storage.review_seed import INVOICE, LOW
from tests.support.stacks import LiveStack, StackFactory

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def stack(stack_factory: StackFactory) -> Iterator[LiveStack]:
    """An API with no workers: seeded jobs stay exactly as seeded."""
    made = stack_factory(name="review", workers=[], scheduler=False)
    yield made
    made.close()


def test_the_queue_lists_pending_jobs_oldest_first_in_pages_with_their_fields(
    stack: LiveStack,
) -> None:
    tenant = stack.tenant("queue")
    with stack.client(tenant) as client:
        version = seed.invoice_version(stack, client)
        first = seed.job(stack, tenant, extractor_version_id=version, filename="first.pdf")
        batch_id, in_batch = seed.batch(stack, tenant, 3, version)
        seed.job(stack, tenant, review_state="not_needed")
        items, pending = seed.queue(client, limit=2)
        batch_items, batch_pending = seed.queue(client, batch_id=batch_id, limit=2)
        none_items, none_pending = seed.queue(client, extractor="resume")
    assert [i["job_id"] for i in items] == [first, *in_batch]
    assert pending == 4
    assert [i["job_id"] for i in batch_items] == in_batch
    assert batch_pending == 3
    assert (none_items, none_pending) == ([], 0)
    item = items[0]
    assert item["extractor"] == "invoice"
    assert item["extractor_version_id"] == str(version)
    assert item["filename"] == "first.pdf"
    assert item["result"] == INVOICE
    assert item["document_fit"] == {"fits": True, "reason": "an invoice"}
    total = next(f for f in item["fields"] if f["path"] == "/total")
    assert {"path", "value", "quote", "support", "start", "end", "page", "confidence"} <= set(total)
    assert (total["value"], total["support"], total["page"]) == (105.0, "verified", 1)
    assert item["confidence"] == total["confidence"]


def test_another_tenant_neither_sees_nor_reviews_the_job(stack: LiveStack) -> None:
    owner, stranger = stack.tenant("owner"), stack.tenant("stranger")
    job_id = seed.job(stack, owner)
    with stack.client(stranger) as client:
        items, pending = seed.queue(client)
        review = client.post(f"/v1/jobs/{job_id}/review", json={"approve": True})
        trail = client.get(f"/v1/jobs/{job_id}/reviews")
    assert job_id not in {i["job_id"] for i in items}
    assert pending == 0
    assert assert_json_error(review, 404)["error"]["type"] == "not_found"
    assert assert_json_error(trail, 404)["error"]["type"] == "not_found"
    assert seed.stored(stack, job_id).review_state == "pending"


def test_a_correction_is_stored_with_its_audit_and_exported_with_the_original(
    stack: LiveStack,
) -> None:
    tenant = stack.tenant("corrector")
    with stack.client(tenant) as client:
        version = seed.invoice_version(stack, client)
        batch_id, (corrected, approved, waiting) = seed.batch(stack, tenant, 3, version)
        resp = client.post(f"/v1/jobs/{corrected}/review", json={"corrections": MORE})
        assert resp.status_code == 200, resp.text
        ok = client.post(f"/v1/jobs/{approved}/review", json={"approve": True})
        assert ok.status_code == 200, ok.text
        trail = client.get(f"/v1/jobs/{corrected}/reviews").json()["data"]
        export = client.get(f"/v1/batches/{batch_id}/results")
        summary = client.get(f"/v1/batches/{batch_id}").json()
    job = resp.json()
    assert (job["review_state"], job["result_version"]) == ("corrected", 2)
    assert job["original_result"] == INVOICE
    assert (job["result"]["subtotal"], job["result"]["total"]) == (150.0, 155.0)
    fields = {f["path"]: f for f in job["fields"]}
    assert fields["/total"]["confidence"] == 1.0
    assert fields["/total"]["signals"]["reviewed"] == 1.0
    [row] = trail
    assert row["reviewer"] == tenant.api_key.split("_")[1]  # dq_<prefix>_<secret>
    assert (row["action"], row["version"]) == ("corrected", 2)
    assert row["corrections"]["/total"] == {"before": 105.0, "after": 155.0}
    assert (row["before"], row["after"]) == (INVOICE, job["result"])
    lines = {line["id"]: line for line in map(json.loads, export.text.splitlines())}
    assert lines[corrected]["review_state"] == "corrected"
    assert lines[corrected]["result"] == job["result"]
    assert lines[corrected]["original_result"] == INVOICE
    assert (lines[approved]["review_state"], lines[approved]["original_result"]) == (
        "approved",
        None,
    )
    assert lines[waiting]["review_state"] == "pending"
    assert lines[waiting]["confidence"] == LOW  # the seeded lowest field's
    assert summary["review"] == {"pending": 1, "approved": 1, "corrected": 1, "not_needed": 0}
    stored = seed.stored(stack, corrected)
    assert stored.result == job["result"]
    assert stored.original_result == INVOICE


def test_a_correction_breaking_the_invoice_totals_is_a_422_naming_the_pointer(
    stack: LiveStack,
) -> None:
    tenant = stack.tenant("totals")
    with stack.client(tenant) as client:
        job_id = seed.job(stack, tenant, extractor_version_id=seed.invoice_version(stack, client))
        resp = client.post(f"/v1/jobs/{job_id}/review", json={"corrections": {"/total": 999}})
        trail = client.get(f"/v1/jobs/{job_id}/reviews").json()["data"]
    body = assert_json_error(resp, 422)
    assert body["error"]["type"] == "correction_invalid"
    assert "/total" in body["error"]["message"]
    assert "subtotal" in body["error"]["message"]  # the invoice's own cross-field check
    assert trail == []
    stored = seed.stored(stack, job_id)
    assert (stored.result, stored.result_version, stored.review_state) == (INVOICE, 1, "pending")


def test_a_correction_outside_a_tenant_schema_is_a_422_naming_the_field(stack: LiveStack) -> None:
    tenant = stack.tenant("claims")
    name = f"claims_{uuid.uuid4().hex[:6]}"
    with stack.client(tenant) as client:
        made = client.post("/v1/extractors", json={"name": name, "json_schema": CLAIMS})
        assert made.status_code == 201, made.text
        with stack.session() as session:
            version = session.scalar(
                select(ExtractorVersion.id)
                .join(Extractor, Extractor.id == ExtractorVersion.extractor_id)
                .where(Extractor.tenant_id == uuid.UUID(tenant.id), Extractor.name == name)
            )
        job_id = seed.job(
            stack,
            tenant,
            result=CLAIM,
            schema_name=name,
            extractor_version_id=version,
        )
        negative = client.post(f"/v1/jobs/{job_id}/review", json={"corrections": {"/amount": -5}})
        kind = client.post(f"/v1/jobs/{job_id}/review", json={"corrections": {"/kind": "boat"}})
        fine = client.post(f"/v1/jobs/{job_id}/review", json={"corrections": {"/kind": "auto"}})
    for resp, pointer in ((negative, "/amount"), (kind, "/kind")):
        body = assert_json_error(resp, 422)
        assert body["error"]["type"] == "correction_invalid"
        assert pointer in body["error"]["message"]
    assert fine.status_code == 200, fine.text
    assert fine.json()["result"] == {**CLAIM, "kind": "auto"}


@pytest.mark.parametrize(
    ("body", "kind", "shown"),
    [
        ({"corrections": {"/vendor/nope/x": 1}}, "invalid_pointer", "/vendor/nope/x"),
        ({"corrections": {"/line_items/7": {}}}, "invalid_pointer", "/line_items/7"),
        ({"corrections": {"vendor": 1}}, "invalid_pointer", "vendor"),
        ({"corrections": {}, "approve": False}, "invalid_request", "approve"),
        ({}, "invalid_request", "approve"),
    ],
)
def test_a_review_that_names_no_field_or_asks_nothing_is_a_422(
    stack: LiveStack, body: dict[str, Any], kind: str, shown: str
) -> None:
    tenant = stack.tenant("pointers")
    job_id = seed.job(stack, tenant)
    with stack.client(tenant) as client:
        resp = client.post(f"/v1/jobs/{job_id}/review", json=body)
    error = assert_json_error(resp, 422)["error"]
    assert error["type"] == kind
    assert shown in error["message"]
    assert seed.stored(stack, job_id).result_version == 1


def test_a_failed_job_cannot_be_reviewed(stack: LiveStack) -> None:
    from schemas.jobs import JobStatus

    tenant = stack.tenant("failed")
    job_id = seed.job(stack, tenant, status=JobStatus.FAILED, review_state=None)
    with stack.client(tenant) as client:
        resp = client.post(f"/v1/jobs/{job_id}/review", json={"approve": True})
    assert assert_json_error(resp, 409)["error"]["type"] == "invalid_state"


def test_labels_are_the_reviewed_jobs_of_one_extractor_with_their_final_results(
    stack: LiveStack,
) -> None:
    tenant = stack.tenant("labels")
    with stack.client(tenant) as client:
        version = seed.invoice_version(stack, client)
        batch_id, (corrected, approved, _waiting) = seed.batch(stack, tenant, 3, version)
        assert client.post(f"/v1/jobs/{corrected}/review", json={"corrections": MORE}).is_success
        assert client.post(f"/v1/jobs/{approved}/review", json={"approve": True}).is_success
        first = client.get("/v1/review/labels", params={"extractor": "invoice", "limit": 1})
        rest = client.get(
            "/v1/review/labels",
            params={"extractor": "invoice", "cursor": first.json()["next_cursor"]},
        )
        other = client.get("/v1/review/labels", params={"extractor": "resume"})
        missing = client.get("/v1/review/labels")
    items = first.json()["items"] + rest.json()["items"]
    assert rest.json()["next_cursor"] is None
    by_id = {i["job_id"]: i for i in items}
    assert set(by_id) == {corrected, approved}
    label = by_id[corrected]
    assert label["review_state"] == "corrected"
    assert label["result"]["total"] == 155.0
    assert label["original_result"] == INVOICE
    assert (label["batch_id"], label["extractor"]) == (batch_id, "invoice")
    assert label["idempotency_key"].startswith("doc:inv-")
    assert label["key"] == label["idempotency_key"].removeprefix("doc:")
    assert label["reviewed_at"] is not None
    assert by_id[approved]["result"] == INVOICE
    assert other.json() == {"items": [], "next_cursor": None}
    assert assert_json_error(missing, 422)["error"]["type"] == "invalid_request"
