"""Signed webhooks when a job or a batch finishes: one delivery attempt, by id.

Deliveries are owed in Postgres (storage/webhooks.py) and attempted by a Celery task
(tasks/celery/webhook_task.py). Delivery is at least once: receivers dedupe on the
`webhook-id` header and check the Standard Webhooks signature (tasks/webhooks/signing.py;
docs/webhooks.md).
"""

from __future__ import annotations

import functools
import random
import time
import uuid
from collections.abc import Callable

import httpx
import structlog

from schemas.config import Settings, WebhookConfig
from storage import webhooks as store
from storage.db import session_scope
from tasks.observability import metrics
from tasks.webhooks.netguard import (
    Resolver,
    Target,
    Unresolvable,
    UrlRefused,
    check_url,
    system_resolver,
)
from tasks.webhooks.signing import (
    DELIVERY_HEADER,
    SIGNATURE_HEADER,
    encode,
    sign,
    standard_headers,
)
from tasks.webhooks.slots import TenantSlots, busy_wait_s

log = structlog.get_logger(__name__)

Post = Callable[[Target, bytes, dict[str, str], float], int]


def backoff_s(attempt: int, cfg: WebhookConfig) -> float:
    """Exponential backoff with equal jitter: half fixed, half random, capped."""
    ceiling = min(cfg.max_delay_s, cfg.base_delay_s * 2.0 ** max(0, attempt - 1))
    return ceiling / 2 + random.uniform(0, ceiling / 2)


def http_post(
    target: Target,
    body: bytes,
    headers: dict[str, str],
    timeout_s: float,
    *,
    connect_timeout_s: float | None = None,
) -> int:
    """POST to the checked address (no redirects, no proxies); returns the status code."""
    sni = {"sni_hostname": target.host} if target.connect_url.startswith("https:") else {}
    # A short connect timeout: a dead host must not hold a consumer thread for the whole read.
    timeout = httpx.Timeout(timeout_s, connect=connect_timeout_s or timeout_s)
    with httpx.Client(timeout=timeout, follow_redirects=False, trust_env=False) as client:
        response = client.post(
            target.connect_url,
            content=body,
            headers={**headers, "Host": target.host_header},
            extensions=sni,
        )
    return response.status_code


def deliver(
    *,
    delivery_id: uuid.UUID,
    settings: Settings,
    post: Post | None = None,
    resolver: Resolver = system_resolver,
    db_url: str | None = None,
    slots: TenantSlots | None = None,
) -> float | None:
    """Make one attempt; return seconds until the next one, or None when nothing is left.

    With `slots`, the attempt first takes one of its tenant's delivery slots; when they are
    all busy it is postponed (no attempt counted) and the seconds to wait are returned.
    """
    cfg = settings.app.webhooks
    send = post or functools.partial(http_post, connect_timeout_s=cfg.connect_timeout_s)
    if slots is None:
        return _attempt(delivery_id, settings, send, resolver, db_url)
    with session_scope(db_url) as session:
        tenant_id = store.due_tenant(session=session, delivery_id=delivery_id)
    if tenant_id is None:
        return None  # delivered, given up, leased, or a duplicate message ahead of its time
    with slots.hold(tenant_id) as got:
        if got:
            return _attempt(delivery_id, settings, send, resolver, db_url)
    wait = busy_wait_s(cfg.busy_retry_s)
    with session_scope(db_url) as session:
        # Moved only if still due: of two messages for one delivery, one keeps waiting.
        moved = store.postpone(session=session, delivery_id=delivery_id, seconds=wait)
    return wait if moved else None


def signed_headers(claimed: store.Claimed, body: bytes) -> dict[str, str]:
    """This attempt's headers: Standard Webhooks' three, and the deprecated pair for a release."""
    now = int(time.time())  # one timestamp: both signatures describe the same attempt
    msg_id = str(claimed.id)  # the same on every retry of the delivery: receivers dedupe on it
    return {
        "Content-Type": "application/json",
        "User-Agent": "docqueue-webhooks/1",
        "Docqueue-Event": claimed.event,
        **standard_headers(secret=claimed.secret, msg_id=msg_id, body=body, timestamp=now),
        DELIVERY_HEADER: msg_id,
        SIGNATURE_HEADER: sign(secret=claimed.secret, body=body, timestamp=now),
    }


def _attempt(
    delivery_id: uuid.UUID,
    settings: Settings,
    post: Post,
    resolver: Resolver,
    db_url: str | None,
) -> float | None:
    """Claim the delivery's next attempt and POST it (see `deliver`)."""
    cfg = settings.app.webhooks
    with session_scope(db_url) as session:
        claimed = store.claim(session=session, delivery_id=delivery_id, lease_s=cfg.timeout_s + 30)
    if claimed is None:
        return None  # delivered, given up, or a duplicate message ahead of its time
    status_code: int | None = None
    error: str | None = None
    refused = False
    try:
        target = check_url(
            claimed.url, allow_private=settings.webhook_allow_private, resolver=resolver
        )
    except Unresolvable as exc:  # DNS may be down for a moment: retried like a 5xx
        error = str(exc)
    except UrlRefused as exc:
        error, refused = f"refused: {exc}", True
    else:
        body = encode(claimed.payload)
        try:
            status_code = post(target, body, signed_headers(claimed, body), cfg.timeout_s)
            error = None if 200 <= status_code < 300 else f"HTTP {status_code}"
        except Exception as exc:  # noqa: BLE001 - a receiver's failure is recorded, not raised
            error = f"{type(exc).__name__}: {exc}"[:300]
    ok = error is None
    final = ok or refused or claimed.attempt >= cfg.max_attempts
    retry_in = None if final else backoff_s(claimed.attempt, cfg)
    status = "delivered" if ok else ("failed" if final else "pending")
    with session_scope(db_url) as session:
        store.record_attempt(
            session=session,
            delivery_id=claimed.id,
            attempt=claimed.attempt,
            status=status,
            status_code=status_code,
            error=error,
            retry_in_s=retry_in,
        )
    outcome = "refused" if refused else ("retry" if status == "pending" else status)
    metrics.WEBHOOK_ATTEMPTS.labels(event=claimed.event, outcome=outcome).inc()
    log.info(
        "webhook_attempt",
        delivery_id=str(claimed.id),
        webhook_event=claimed.event,
        webhook_attempt=claimed.attempt,
        status_code=status_code,
        outcome=outcome,
        error=error,
    )
    return retry_in
