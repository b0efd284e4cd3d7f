"""Per-tenant delivery slots on real Redis and Postgres, and the short connect timeout."""

from __future__ import annotations

import contextlib
import datetime as dt
import socket
import time
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
import redis
from sqlalchemy import update

from schemas.config import Settings
from storage.db import session_scope
from storage.tenants import create_tenant
from storage.webhook_models import WebhookDelivery
from tasks.flow import keys
from tasks.flow.semaphore import RedisSlotLimiter
from tasks.webhooks.delivery import deliver, http_post
from tasks.webhooks.netguard import Target
from tasks.webhooks.slots import TenantSlots
from tests.support.stacks import write_test_config

PUBLIC = ["93.184.216.34"]


@pytest.fixture
def settings(tmp_path: Path, pg_url: str) -> Settings:
    config = write_test_config(tmp_path / "docqueue.toml", {"webhooks": {"busy_retry_s": 2.0}})
    return Settings(database_url=pg_url, docqueue_config=config, webhook_allow_private=False)


@pytest.fixture
def slots(redis_client: redis.Redis) -> TenantSlots:
    limiter = RedisSlotLimiter(
        redis_client, lease_ttl_s=5.0, heartbeat_s=1.0, acquire_timeout_s=0.0
    )
    return TenantSlots(limiter, cap=1)


def _owe(pg_url: str, tenant_id: uuid.UUID) -> uuid.UUID:
    with session_scope(pg_url) as session:
        row = WebhookDelivery(
            tenant_id=tenant_id,
            event="job.finished",
            url="https://hooks.example.com/in",
            dedupe_key=f"test:{uuid.uuid4()}",
            payload={"event": "job.finished", "id": "j1", "status": "succeeded"},
        )
        session.add(row)
        session.flush()
        return row.id


@pytest.fixture
def tenant(pg_url: str) -> uuid.UUID:
    with session_scope(pg_url) as session:
        made = create_tenant(
            session=session,
            name=f"slots-{uuid.uuid4().hex[:6]}",
            monthly_budget_usd=Decimal(1),
            concurrency=1,
        )
        return made.id


def _row(pg_url: str, ident: uuid.UUID) -> WebhookDelivery:
    with session_scope(pg_url) as session:
        found = session.get(WebhookDelivery, ident)
        assert found is not None
        return found


def test_a_delivery_whose_tenant_has_no_free_slot_is_postponed_without_an_attempt(
    settings: Settings, slots: TenantSlots, tenant: uuid.UUID, pg_url: str
) -> None:
    ident = _owe(pg_url, tenant)
    posts: list[str] = []

    def post(target: Target, *_: object) -> int:
        posts.append(target.url)
        return 200

    def call() -> float | None:
        return deliver(
            delivery_id=ident,
            settings=settings,
            resolver=lambda *_: PUBLIC,
            post=post,
            db_url=pg_url,
            slots=slots,
        )

    with slots.hold(tenant) as got:  # another delivery of this tenant is in flight
        assert got
        wait = call()
        duplicate = call()  # a second message for the same delivery, while it waits
    row = _row(pg_url, ident)
    assert wait is not None
    assert 1.0 <= wait <= 3.0
    assert duplicate is None, "a waiting delivery's duplicate message must end, not multiply"
    assert (row.status, row.attempts, posts) == ("pending", 0, [])
    assert row.next_attempt_at > dt.datetime.now(dt.UTC)  # off the overdue list while it waits
    with session_scope(pg_url) as session:  # the wait elapses
        session.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.id == ident)
            .values(next_attempt_at=WebhookDelivery.created_at)
        )
    assert call() is None
    row = _row(pg_url, ident)
    assert (row.status, row.attempts, len(posts)) == ("delivered", 1, 1)


def test_a_slot_is_given_back_after_the_post_so_the_tenants_next_delivery_goes(
    settings: Settings,
    slots: TenantSlots,
    tenant: uuid.UUID,
    pg_url: str,
    redis_client: redis.Redis,
) -> None:
    first, second = _owe(pg_url, tenant), _owe(pg_url, tenant)
    for ident in (first, second):
        assert (
            deliver(
                delivery_id=ident,
                settings=settings,
                resolver=lambda *_: PUBLIC,
                post=lambda *_: 200,
                db_url=pg_url,
                slots=slots,
            )
            is None
        )
    limiter = RedisSlotLimiter(redis_client, lease_ttl_s=5, heartbeat_s=1, acquire_timeout_s=0)
    assert limiter.in_use(keys.webhook_slots(str(tenant))) == 0
    assert {_row(pg_url, i).status for i in (first, second)} == {"delivered"}


def test_another_tenants_delivery_goes_while_one_tenants_slots_are_busy(
    settings: Settings, slots: TenantSlots, tenant: uuid.UUID, pg_url: str
) -> None:
    with session_scope(pg_url) as session:
        other = create_tenant(
            session=session, name="other-slots", monthly_budget_usd=Decimal(1), concurrency=1
        ).id
    ident = _owe(pg_url, other)
    with slots.hold(tenant) as got:
        assert got
        retry = deliver(
            delivery_id=ident,
            settings=settings,
            resolver=lambda *_: PUBLIC,
            post=lambda *_: 200,
            db_url=pg_url,
            slots=slots,
        )
    assert retry is None
    assert _row(pg_url, ident).status == "delivered"


@pytest.fixture
def unanswered_port() -> Iterator[int]:
    """A port whose accept queue is full: a new connection's SYN is never answered."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(0)
    port = server.getsockname()[1]
    fillers = []
    for _ in range(4):
        filler = socket.socket()
        filler.setblocking(False)
        with contextlib.suppress(BlockingIOError):  # the handshake completes in the kernel
            filler.connect(("127.0.0.1", port))
        fillers.append(filler)
    time.sleep(0.2)
    yield port
    for sock in [*fillers, server]:
        sock.close()


def test_a_receiver_that_never_completes_the_connect_fails_after_the_connect_timeout(
    unanswered_port: int,
) -> None:
    url = f"http://127.0.0.1:{unanswered_port}/hook"
    target = Target(url, url, "127.0.0.1", f"127.0.0.1:{unanswered_port}", "127.0.0.1")
    started = time.monotonic()
    with pytest.raises(httpx.ConnectTimeout):
        http_post(target, b"{}", {}, 30.0, connect_timeout_s=0.5)
    assert time.monotonic() - started < 5.0  # the connect timeout, not the 30 s read timeout
