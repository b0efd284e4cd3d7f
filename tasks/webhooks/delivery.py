"""Signed webhooks when a job or a batch finishes: owe in Postgres, POST from a Celery task.

Delivery is at least once: receivers dedupe on the `Docqueue-Delivery` header and check
`Docqueue-Signature: t=<unix>,v1=<hex>`, an HMAC-SHA256 of f"{t}.{body}" under the tenant's
webhook secret (`verify` below is the reference check).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import random
import time
import uuid
from collections.abc import Callable, Iterable
from typing import Any

import httpx
import sqlalchemy.exc
import structlog
from celery import Task

from schemas.config import Settings, WebhookConfig, get_settings
from storage import webhooks as store
from storage.db import session_scope
from tasks.celery.app import WEBHOOK_QUEUE, WEBHOOK_TASK, app
from tasks.observability import metrics
from tasks.webhooks.netguard import (
    Resolver,
    Target,
    Unresolvable,
    UrlRefused,
    check_url,
    system_resolver,
)

log = structlog.get_logger(__name__)

SIGNATURE_HEADER = "Docqueue-Signature"
OVERDUE_GRACE_S = 60.0  # a pending delivery this far past due lost its message
Post = Callable[[Target, bytes, dict[str, str], float], int]


def sign(*, secret: str, body: bytes, timestamp: int) -> str:
    """The signature header value for `body` sent at `timestamp` (unix seconds)."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def verify(
    *, secret: str, body: bytes, header: str, tolerance_s: float = 300, now: float | None = None
) -> bool:
    """Whether `header` signs `body` with `secret` and its timestamp is within tolerance."""
    fields: dict[str, list[str]] = {}
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        fields.setdefault(key, []).append(value)
    try:
        timestamp = int(fields["t"][0])
    except (KeyError, ValueError):
        return False
    if abs((time.time() if now is None else now) - timestamp) > tolerance_s:
        return False  # a replay of an old, validly signed body
    expected = sign(secret=secret, body=body, timestamp=timestamp).rpartition("v1=")[2]
    return any(hmac.compare_digest(expected, given) for given in fields.get("v1", []))


def encode(payload: dict[str, Any]) -> bytes:
    """The exact bytes sent and signed."""
    return json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()


def backoff_s(attempt: int, cfg: WebhookConfig) -> float:
    """Exponential backoff with equal jitter: half fixed, half random, capped."""
    ceiling = min(cfg.max_delay_s, cfg.base_delay_s * 2.0 ** max(0, attempt - 1))
    return ceiling / 2 + random.uniform(0, ceiling / 2)


def http_post(target: Target, body: bytes, headers: dict[str, str], timeout_s: float) -> int:
    """POST to the checked address (no redirects, no proxies); returns the status code."""
    sni = {"sni_hostname": target.host} if target.connect_url.startswith("https:") else {}
    with httpx.Client(timeout=timeout_s, follow_redirects=False, trust_env=False) as client:
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
    post: Post = http_post,
    resolver: Resolver = system_resolver,
    db_url: str | None = None,
) -> float | None:
    """Make one attempt; return seconds until the next one, or None when nothing is left."""
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
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "docqueue-webhooks/1",
            "Docqueue-Event": claimed.event,
            "Docqueue-Delivery": str(claimed.id),
            SIGNATURE_HEADER: sign(secret=claimed.secret, body=body, timestamp=int(time.time())),
        }
        try:
            status_code = post(target, body, headers, cfg.timeout_s)
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


def publish(ids: Iterable[uuid.UUID | None]) -> None:
    """Send one delivery message per id (only the id travels)."""
    for delivery_id in ids:
        if delivery_id is not None:
            app.send_task(WEBHOOK_TASK, args=[str(delivery_id)], queue=WEBHOOK_QUEUE)


def republish_overdue(*, grace_s: float = OVERDUE_GRACE_S) -> int:
    """Re-send deliveries whose message was lost or never sent (the scheduler calls this)."""
    with session_scope() as session:
        ids = store.take_overdue(session=session, grace_s=grace_s)
    publish(ids)
    return len(ids)


@app.task(  # type: ignore[untyped-decorator]  # celery ships no type hints
    name=WEBHOOK_TASK, bind=True, acks_late=True, max_retries=None
)
def deliver_webhook(self: Task, delivery_id: str) -> str:
    """Attempt one webhook delivery by id; Postgres counts attempts and picks the backoff."""
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(request_id=self.request.id)
    try:
        retry_in = deliver(delivery_id=uuid.UUID(delivery_id), settings=get_settings())
    except (sqlalchemy.exc.OperationalError, sqlalchemy.exc.InterfaceError) as exc:
        raise self.retry(exc=exc, countdown=5, max_retries=60) from exc
    finally:
        structlog.contextvars.clear_contextvars()
    if retry_in is not None:
        raise self.retry(countdown=retry_in)
    return "done"
