"""Webhooks: signatures, the SSRF guard, delivery attempts and backoff, and the real path."""

from __future__ import annotations

import datetime as dt
import json
import time
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select, update

from schemas.config import Settings
from storage.db import session_scope
from storage.models import Tenant, WebhookDelivery
from storage.tenants import create_tenant
from tasks.webhooks.delivery import SIGNATURE_HEADER, deliver, sign, verify
from tasks.webhooks.netguard import Target as NetTarget
from tasks.webhooks.netguard import UrlRefused, check_url
from tests.conftest import LiveStack, StackFactory, wait_for, wait_job, write_test_config
from tests.support.webhook_receiver import Receiver

SECRET = "whsec_test"  # noqa: S105 - a test signing key
BODY = b'{"event":"job.finished","id":"x"}'


def test_a_signature_verifies_with_the_same_secret_and_body() -> None:
    header = sign(secret=SECRET, body=BODY, timestamp=int(time.time()))
    assert header.startswith("t=")
    assert ",v1=" in header
    assert verify(secret=SECRET, body=BODY, header=header, tolerance_s=300)


@pytest.mark.parametrize(
    ("secret", "body", "age_s"),
    [("other", BODY, 0), (SECRET, BODY + b" ", 0), (SECRET, BODY, 301)],
    ids=["wrong-secret", "tampered-body", "too-old"],
)
def test_a_signature_fails_for_another_secret_a_changed_body_or_an_old_timestamp(
    secret: str, body: bytes, age_s: int
) -> None:
    now = time.time()
    header = sign(secret=SECRET, body=BODY, timestamp=int(now - age_s))
    assert not verify(secret=secret, body=body, header=header, tolerance_s=300, now=now)


def test_a_malformed_signature_header_does_not_verify() -> None:
    assert not verify(secret=SECRET, body=BODY, header="v1=abc", tolerance_s=300)
    assert not verify(secret=SECRET, body=BODY, header="t=soon,v1=abc", tolerance_s=300)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/hook",
        "http://10.1.2.3/hook",
        "http://192.168.0.10/hook",
        "http://169.254.169.254/latest/meta-data",  # cloud metadata: link-local
        "http://224.0.0.1/hook",
        "http://240.0.0.1/hook",
        "http://0.0.0.0/hook",
        "http://[::1]/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://[fe80::1]/hook",
        "http://100.64.0.1/hook",
        "ftp://93.184.216.34/hook",
        "file:///etc/passwd",
        "http://user:pw@93.184.216.34/hook",
    ],
)
def test_guard_refuses_non_public_addresses_other_schemes_and_credentials(url: str) -> None:
    with pytest.raises(UrlRefused):
        check_url(url, resolver=lambda *_: ["93.184.216.34"])


def test_guard_refuses_a_name_that_resolves_to_a_private_address() -> None:
    with pytest.raises(UrlRefused, match="private"):
        check_url("https://hooks.example.com/x", resolver=lambda *_: ["10.0.0.7"])


def test_guard_pins_a_public_name_to_the_checked_address_and_keeps_the_host() -> None:
    target = check_url(
        "https://hooks.example.com:8443/x?a=1", resolver=lambda *_: ["93.184.216.34"]
    )
    assert target.connect_url == "https://93.184.216.34:8443/x?a=1"
    assert (target.host, target.host_header) == ("hooks.example.com", "hooks.example.com:8443")


def test_guard_allows_private_addresses_only_when_configured() -> None:
    assert check_url("http://127.0.0.1:9/x", allow_private=True).address == "127.0.0.1"


# --- deliver(): one attempt at a time, recorded in webhook_deliveries ---------------------


@pytest.fixture
def settings(tmp_path: Path, pg_url: str) -> Settings:
    config = write_test_config(
        tmp_path / "docqueue.toml",
        {"webhooks": {"max_attempts": 2, "base_delay_s": 10.0, "max_delay_s": 60.0}},
    )
    return Settings(database_url=pg_url, docqueue_config=config, webhook_allow_private=False)


@pytest.fixture
def delivery(pg_url: str) -> tuple[uuid.UUID, str]:
    """A pending job.finished delivery to a public-looking host; yields (id, secret)."""
    with session_scope(pg_url) as session:
        tenant = create_tenant(
            session=session,
            name=f"hooks-{uuid.uuid4().hex[:6]}",
            monthly_budget_usd=Decimal(1),
            concurrency=1,
        )
        row = WebhookDelivery(
            tenant_id=tenant.id,
            event="job.finished",
            url="https://hooks.example.com/in",
            dedupe_key=f"test:{uuid.uuid4()}",
            payload={"event": "job.finished", "id": "j1", "status": "succeeded"},
        )
        session.add(row)
        session.flush()
        ident, secret = row.id, tenant.webhook_secret
    return ident, secret


def _row(pg_url: str, ident: uuid.UUID) -> WebhookDelivery:
    with session_scope(pg_url) as session:
        found = session.get(WebhookDelivery, ident)
        assert found is not None
        return found


def test_a_refused_url_records_a_failed_delivery_with_the_reason_and_never_raises(
    settings: Settings, delivery: tuple[uuid.UUID, str], pg_url: str
) -> None:
    posted: list[NetTarget] = []
    retry_in = deliver(
        delivery_id=delivery[0],
        settings=settings,
        resolver=lambda *_: ["169.254.169.254"],
        post=lambda target, *_: posted.append(target) or 200,
        db_url=pg_url,
    )
    row = _row(pg_url, delivery[0])
    assert retry_in is None
    assert not posted
    assert (row.status, row.attempts, row.last_status_code) == ("failed", 1, None)
    assert "link-local" in (row.last_error or "")
    assert row.attempt_log[0]["error"].startswith("refused:")


def test_a_failing_receiver_is_retried_with_backoff_then_given_up_after_max_attempts(
    settings: Settings, delivery: tuple[uuid.UUID, str], pg_url: str
) -> None:
    def call() -> float | None:
        return deliver(
            delivery_id=delivery[0],
            settings=settings,
            resolver=lambda *_: ["93.184.216.34"],
            post=lambda *_: 503,
            db_url=pg_url,
        )

    first = call()
    assert first is not None
    assert 5.0 <= first <= 10.0  # equal jitter on base 10 s
    row = _row(pg_url, delivery[0])
    assert (row.status, row.attempts, row.last_status_code) == ("pending", 1, 503)
    assert call() is None  # a duplicate message before the retry is due does nothing
    assert _row(pg_url, delivery[0]).attempts == 1
    with session_scope(pg_url) as session:  # the countdown elapses
        session.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.id == delivery[0])
            .values(next_attempt_at=WebhookDelivery.created_at)
        )
    assert call() is None  # attempt 2 of 2: final
    row = _row(pg_url, delivery[0])
    assert (row.status, row.attempts) == ("failed", 2)
    assert [a["status_code"] for a in row.attempt_log] == [503, 503]


def test_a_delivered_post_is_signed_with_the_tenant_secret_and_pinned(
    settings: Settings, delivery: tuple[uuid.UUID, str], pg_url: str
) -> None:
    seen: list[tuple[NetTarget, bytes, dict[str, str]]] = []

    def post(target: NetTarget, body: bytes, headers: dict[str, str], _timeout: float) -> int:
        seen.append((target, body, headers))
        return 204

    deliver(
        delivery_id=delivery[0],
        settings=settings,
        resolver=lambda *_: ["93.184.216.34"],
        post=post,
        db_url=pg_url,
    )
    target, body, headers = seen[0]
    assert target.connect_url == "https://93.184.216.34/in"
    assert verify(secret=delivery[1], body=body, header=headers[SIGNATURE_HEADER])
    assert headers["Docqueue-Delivery"] == str(delivery[0])
    row = _row(pg_url, delivery[0])
    assert (row.status, row.last_status_code) == ("delivered", 204)
    assert row.delivered_at is not None


def test_a_finish_is_owed_once_and_a_lost_message_is_taken_again_after_the_grace(
    pg_url: str, delivery: tuple[uuid.UUID, str]
) -> None:
    from schemas.jobs import JobStatus
    from storage import jobs as job_store
    from storage import webhooks as webhook_store

    with session_scope(pg_url) as session:
        tenant_id = session.scalar(
            select(WebhookDelivery.tenant_id).where(WebhookDelivery.id == delivery[0])
        )
        assert tenant_id is not None
        job, _ = job_store.create_job(
            session=session,
            new=job_store.NewJob(
                tenant_id=tenant_id,
                schema_name="invoice",
                schema_version="1",
                prompt_version="1",
                tier="low",
                tier_reason="test",
                document_sha256=None,
                webhook_url="https://hooks.example.com/in",
                status=JobStatus.FAILED,
                error_type="document_invalid",
                error_message="not a PDF",
            ),
        )
        owed = webhook_store.owe_for_job(session=session, job=job)
        assert owed is not None
        assert webhook_store.owe_for_job(session=session, job=job) is None  # same finish
        payload = session.get(WebhookDelivery, owed).payload  # type: ignore[union-attr]
        assert payload["error"] == {"type": "document_invalid", "message": "not a PDF"}
        session.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.id == owed)
            .values(next_attempt_at=WebhookDelivery.created_at - dt.timedelta(minutes=2))
        )
    with session_scope(pg_url) as session:
        assert owed in webhook_store.take_overdue(session=session, grace_s=60)
    with session_scope(pg_url) as session:  # re-published just now: not again before the grace
        assert owed not in webhook_store.take_overdue(session=session, grace_s=60)


# --- the real path: worker finish -> Postgres -> Celery webhook queue -> receiver ---------

MARKER = "Zanzibar-quokka-7781"


@pytest.fixture(scope="module")
def hooks(stack_factory: StackFactory) -> Iterator[LiveStack]:
    stack = stack_factory(
        name="hooks",
        overrides={"webhooks": {"base_delay_s": 0.2, "max_delay_s": 1.0}},
        extra_env={"WEBHOOK_ALLOW_PRIVATE": "true"},
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
    last = receiver.on("/job")[-1]
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
    assert [a["status_code"] for a in row.attempt_log] == [500, 200]


def test_a_batch_posts_one_batch_finished_webhook_when_its_last_job_ends(
    hooks: LiveStack, receiver: Receiver
) -> None:
    from schemas.extraction.registry import get_schema
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
            digest = job_store.put_document(session=session, text_=text, kind="text", tokens=9)
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
        job_store.create_jobs(session=session, rows=rows)
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
