"""The real path: worker finish -> Postgres -> Celery webhook queue -> a signed POST."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import select
from standardwebhooks import Webhook, WebhookVerificationError

from storage.models import Tenant
from storage.webhook_models import WebhookDelivery
from tasks.webhooks.signing import standard_secret, verify
from tests.support.stacks import LiveStack, StackFactory
from tests.support.waits import wait_for, wait_job
from tests.support.webhook_receiver import Receiver

MARKER = "Zanzibar-quokka-7781"


@pytest.fixture(scope="module")
def hooks(stack_factory: StackFactory) -> Iterator[LiveStack]:
    stack = stack_factory(
        name="hooks",
        overrides={"webhooks": {"base_delay_s": 0.2, "max_delay_s": 1.0}},
        extra_env={"WEBHOOK_ALLOW_PRIVATE": "true"},
        webhooks=True,  # `docqueue webhooks`: the tier workers deliver none
    )
    yield stack
    stack.close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.close()


def _secret(live: LiveStack) -> str:
    with live.session() as session:
        secret = session.scalar(
            select(Tenant.webhook_secret).where(Tenant.id == uuid.UUID(live.alice.id))
        )
    assert secret
    return secret


def test_a_finished_job_posts_a_signed_webhook_retried_after_a_500(
    hooks: LiveStack, receiver: Receiver
) -> None:
    receiver.statuses = [500]
    with hooks.client() as client:
        created = client.post(
            "/v1/jobs",
            json={
                "schema": "document_summary",
                "tier": "low",
                "text": f"Memo. {MARKER}. All systems nominal.",
                "webhook_url": f"{receiver.url}/job",
            },
        )
        assert created.status_code == 202, created.text
        job = wait_job(client, created.json()["id"])
    assert job["status"] == "succeeded"
    wait_for(lambda: len(receiver.on("/job")) >= 2, timeout=20)
    posts = receiver.on("/job")
    last = posts[-1]
    # Standard Webhooks, as a receiver checks it with the library (or Svix's, any language)
    signer = Webhook(standard_secret(_secret(hooks)))
    for post in posts:
        assert signer.verify(post.body, post.headers) == json.loads(post.body)
    tampered = last.body.replace(b"succeeded", b"failed")
    with pytest.raises(WebhookVerificationError):
        signer.verify(tampered, last.headers)
    # the deprecated header, kept for one release, still verifies
    assert verify(secret=_secret(hooks), body=last.body, header=last.headers["docqueue-signature"])
    payload = json.loads(last.body)
    assert (payload["event"], payload["id"], payload["status"]) == (
        "job.finished",
        job["id"],
        "succeeded",
    )
    assert payload["usage"]["input_tokens"] == job["usage"]["input_tokens"] > 0
    assert MARKER.encode() not in last.body
    assert "result" not in payload
    with hooks.session() as session:
        row = session.scalar(
            select(WebhookDelivery).where(WebhookDelivery.job_id == uuid.UUID(job["id"]))
        )
    assert row is not None
    assert (row.status, row.attempts) == ("delivered", 2)
    # one delivery, one id across its retries: what a receiver dedupes on
    assert {p.headers["webhook-id"] for p in posts} == {str(row.id)}
    assert {p.headers["docqueue-delivery"] for p in posts} == {str(row.id)}
    assert [a["status_code"] for a in row.attempt_log] == [500, 200]


def test_a_batch_posts_one_batch_finished_webhook_when_its_last_job_ends(
    hooks: LiveStack, receiver: Receiver
) -> None:
    from schemas.extraction.registry import get_schema
    from storage import bulk
    from storage import documents as document_store
    from storage import jobs as job_store
    from storage.models import Batch

    spec = get_schema("document_summary")
    with hooks.session() as session:
        batch = Batch(
            tenant_id=uuid.UUID(hooks.alice.id),
            schema_name=spec.name,
            tier="low",
            total=3,
            webhook_url=f"{receiver.url}/batch",
            meta={},
        )
        session.add(batch)
        session.flush()
        rows = []
        for i in range(3):
            text = f"Batch memo {i} {uuid.uuid4().hex}."
            digest = document_store.put_document(session=session, text_=text, kind="text", tokens=9)
            rows.append(
                job_store.NewJob(
                    tenant_id=batch.tenant_id,
                    schema_name=spec.name,
                    schema_version=spec.version,
                    prompt_version=spec.prompt.version,
                    tier="low",
                    tier_reason="test",
                    document_sha256=digest,
                    batch_id=batch.id,
                )
            )
        bulk.insert_jobs(session=session, batch_id=batch.id, rows=rows)
        batch_id = str(batch.id)
    wait_for(lambda: receiver.on("/batch"), timeout=30)
    time.sleep(1.0)  # a duplicate from a concurrent last finisher would land by now
    posts = receiver.on("/batch")
    assert len(posts) == 1
    payload = json.loads(posts[0].body)
    assert (payload["event"], payload["id"], payload["status"]) == (
        "batch.finished",
        batch_id,
        "succeeded",
    )
    assert payload["counts"]["succeeded"] == payload["total"] == 3


def test_a_webhook_url_of_another_scheme_is_422_at_submission(hooks: LiveStack) -> None:
    with hooks.client() as client:
        resp = client.post(
            "/v1/jobs",
            json={"schema": "invoice", "text": "x", "webhook_url": "gopher://example.com/x"},
        )
    assert resp.status_code == 422
    assert resp.json()["error"]["type"] == "webhook_url_invalid"


def test_a_private_webhook_url_is_422_unless_private_targets_are_allowed(live: LiveStack) -> None:
    with live.client() as client:
        resp = client.post(
            "/v1/jobs",
            json={"schema": "invoice", "text": "x", "webhook_url": "http://127.0.0.1:9/hook"},
        )
    assert resp.status_code == 422
    assert resp.json()["error"]["type"] == "webhook_url_invalid"
    assert "loopback" in resp.json()["error"]["message"]
