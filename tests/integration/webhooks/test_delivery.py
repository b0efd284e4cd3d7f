"""deliver(): one attempt at a time, recorded in webhook_deliveries; owing and re-taking."""

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
from standardwebhooks import Webhook, WebhookVerificationError

from schemas.config import Settings
from storage.db import session_scope
from storage.tenants import create_tenant
from storage.webhook_models import WebhookDelivery
from tasks.webhooks.delivery import deliver
from tasks.webhooks.netguard import Target as NetTarget
from tasks.webhooks.signing import SIGNATURE_HEADER, standard_secret, verify
from tests.support.stacks import write_test_config
from tests.support.webhook_receiver import Receiver


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


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.close()


def _row(pg_url: str, ident: uuid.UUID) -> WebhookDelivery:
    with session_scope(pg_url) as session:
        found = session.get(WebhookDelivery, ident)
        assert found is not None
        return found


def test_a_refused_url_records_a_failed_delivery_with_the_reason_and_never_raises(
    settings: Settings, delivery: tuple[uuid.UUID, str], pg_url: str
) -> None:
    posted: list[NetTarget] = []

    def post(target: NetTarget, *_: object) -> int:
        posted.append(target)
        return 200

    retry_in = deliver(
        delivery_id=delivery[0],
        settings=settings,
        resolver=lambda *_: ["169.254.169.254"],
        post=post,
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


def test_a_post_to_a_real_receiver_verifies_with_standard_webhooks_and_the_old_header(
    tmp_path: Path, delivery: tuple[uuid.UUID, str], pg_url: str, receiver: Receiver
) -> None:
    ident, secret = delivery
    settings = Settings(
        database_url=pg_url,
        docqueue_config=write_test_config(tmp_path / "docqueue.toml", {}),
        webhook_allow_private=True,  # the receiver listens on loopback
    )
    with session_scope(pg_url) as session:
        session.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.id == ident)
            .values(url=f"{receiver.url}/in")
        )
    before = int(time.time())
    assert deliver(delivery_id=ident, settings=settings, db_url=pg_url) is None
    (got,) = receiver.on("/in")
    assert got.headers["webhook-id"] == got.headers["docqueue-delivery"] == str(ident)
    assert before <= int(got.headers["webhook-timestamp"]) <= time.time()
    assert Webhook(standard_secret(secret)).verify(got.body, got.headers) == json.loads(got.body)
    assert verify(secret=secret, body=got.body, header=got.headers["docqueue-signature"])
    with pytest.raises(WebhookVerificationError):
        Webhook(standard_secret(secret)).verify(got.body.replace(b"j1", b"j2"), got.headers)
    assert _row(pg_url, ident).status == "delivered"
