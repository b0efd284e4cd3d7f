"""Webhook delivery verbs: owe a notification (once per finish), claim it, log each attempt."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import exists, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from schemas.jobs import JobStatus
from storage.models import Batch, Job, Tenant
from storage.webhook_models import WebhookDelivery

_ACTIVE = (JobStatus.QUEUED, JobStatus.RUNNING)


@dataclass(frozen=True)
class Claimed:
    """A delivery this caller may attempt now (attempt number `attempt`)."""

    id: uuid.UUID
    url: str
    event: str
    payload: dict[str, Any]
    secret: str
    attempt: int


def _owe(
    session: Session,
    *,
    tenant_id: uuid.UUID,
    url: str,
    event: str,
    dedupe_key: str,
    payload: dict[str, Any],
    job_id: uuid.UUID | None = None,
    batch_id: uuid.UUID | None = None,
) -> uuid.UUID | None:
    """Insert a pending delivery; None if this finish was already owed (a duplicate)."""
    stmt = (
        insert(WebhookDelivery)
        .values(
            id=uuid.uuid4(),
            tenant_id=tenant_id,
            job_id=job_id,
            batch_id=batch_id,
            event=event,
            url=url,
            dedupe_key=dedupe_key,
            payload=payload,
            status="pending",
            attempts=0,
            attempt_log=[],
        )
        .on_conflict_do_nothing(index_elements=["dedupe_key"])
        .returning(WebhookDelivery.id)
    )
    return session.execute(stmt).scalar()


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value else None


# storage.finishes builds this body in SQL too; a change here goes there as well.
def job_payload(job: Job) -> dict[str, Any]:
    """The `job.finished` body: ids, status, error and usage; never text or results."""
    error = {"type": job.error_type, "message": job.error_message or ""} if job.error_type else None
    return {
        "event": "job.finished",
        "id": str(job.id),
        "status": job.status,
        "batch_id": str(job.batch_id) if job.batch_id else None,
        "schema": job.schema_name,
        "tier": job.tier,
        "model": job.model,
        "attempts": job.attempts,
        "error": error,
        "usage": {
            "input_tokens": job.input_tokens,
            "output_tokens": job.output_tokens,
            "cost_usd": str(job.cost_usd),
        },
        "created_at": _iso(job.created_at),
        "finished_at": _iso(job.finished_at),
    }


def owe_for_job(*, session: Session, job: Job) -> uuid.UUID | None:
    """Owe `job.finished` to the job's webhook_url (once per finished attempt)."""
    if not job.webhook_url or job.status in _ACTIVE:
        return None
    return _owe(
        session,
        tenant_id=job.tenant_id,
        url=job.webhook_url,
        event="job.finished",
        dedupe_key=f"job.finished:{job.id}:{job.attempts}",
        payload=job_payload(job),
        job_id=job.id,
    )


def _batch_status(counts: dict[str, int], cancelled: bool) -> str:
    if cancelled:
        return "cancelled"
    if counts.get(JobStatus.SUCCEEDED, 0) == sum(counts.values()):
        return "succeeded"
    return "partial" if counts.get(JobStatus.SUCCEEDED, 0) else "failed"


def owe_for_batch(*, session: Session, batch_id: uuid.UUID) -> uuid.UUID | None:
    """Owe `batch.finished` if no job of the batch is left queued or running.

    Call it after the finishing job's write committed: of two jobs finishing together, the
    later one then sees both terminal, and the dedupe key makes the other a no-op. The key
    changes when a retry (attempts) or an append (total) reopens the batch.
    """
    batch = session.get(Batch, batch_id)
    if batch is None or not batch.webhook_url:
        return None
    active = select(Job.id).where(Job.batch_id == batch_id, Job.status.in_(_ACTIVE))
    if session.scalar(select(exists(active))):
        return None
    rows = session.execute(
        select(
            Job.status,
            func.count(),
            func.coalesce(func.sum(Job.attempts), 0),
            func.coalesce(func.sum(Job.input_tokens), 0),
            func.coalesce(func.sum(Job.output_tokens), 0),
            func.coalesce(func.sum(Job.cost_usd), 0),
        )
        .where(Job.batch_id == batch_id)
        .group_by(Job.status)
    ).all()
    counts = {str(status): int(n) for status, n, *_ in rows}
    total = sum(counts.values())
    if total == 0 or total < batch.total:  # still being filled
        return None
    attempts = sum(int(r[2]) for r in rows)
    payload = {
        "event": "batch.finished",
        "id": str(batch_id),
        "status": _batch_status(counts, batch.cancelled_at is not None),
        "total": total,
        "counts": {str(s): counts.get(str(s), 0) for s in JobStatus},
        "usage": {
            "input_tokens": sum(int(r[3]) for r in rows),
            "output_tokens": sum(int(r[4]) for r in rows),
            "cost_usd": str(sum(r[5] for r in rows)),
        },
    }
    return _owe(
        session,
        tenant_id=batch.tenant_id,
        url=batch.webhook_url,
        event="batch.finished",
        dedupe_key=f"batch.finished:{batch_id}:{total}:{attempts}",
        payload=payload,
        batch_id=batch_id,
    )


def due_tenant(*, session: Session, delivery_id: uuid.UUID) -> uuid.UUID | None:
    """The tenant of a pending delivery that is due now; None if done, leased or not due."""
    return session.scalar(
        select(WebhookDelivery.tenant_id).where(
            WebhookDelivery.id == delivery_id,
            WebhookDelivery.status == "pending",
            WebhookDelivery.next_attempt_at <= func.now() + dt.timedelta(seconds=1),
        )
    )


def postpone(*, session: Session, delivery_id: uuid.UUID, seconds: float) -> bool:
    """Make a due delivery due `seconds` from now (it waits for a slot, not for a retry).

    It counts no attempt, and keeps a waiting delivery off `take_overdue`'s list.
    """
    moved = session.execute(
        update(WebhookDelivery)
        .where(
            WebhookDelivery.id == delivery_id,
            WebhookDelivery.status == "pending",
            WebhookDelivery.next_attempt_at <= func.now() + dt.timedelta(seconds=1),
        )
        .values(next_attempt_at=func.now() + dt.timedelta(seconds=seconds))
    )
    return bool(moved.rowcount)  # type: ignore[attr-defined]


def claim(*, session: Session, delivery_id: uuid.UUID, lease_s: float) -> Claimed | None:
    """Take the next attempt of a pending, due delivery; None if done or not due.

    `next_attempt_at` doubles as the lease: a duplicate message finds it in the future.
    """
    row = session.execute(
        update(WebhookDelivery)
        .where(
            WebhookDelivery.id == delivery_id,
            WebhookDelivery.status == "pending",
            # a countdown may fire a moment early on another clock
            WebhookDelivery.next_attempt_at <= func.now() + dt.timedelta(seconds=1),
        )
        .values(
            attempts=WebhookDelivery.attempts + 1,
            next_attempt_at=func.now() + dt.timedelta(seconds=lease_s),
        )
        .returning(
            WebhookDelivery.url,
            WebhookDelivery.event,
            WebhookDelivery.payload,
            WebhookDelivery.tenant_id,
            WebhookDelivery.attempts,
        )
    ).first()
    if row is None:
        return None
    secret = session.scalar(select(Tenant.webhook_secret).where(Tenant.id == row.tenant_id))
    return Claimed(delivery_id, row.url, row.event, row.payload, secret or "", row.attempts)


def record_attempt(
    *,
    session: Session,
    delivery_id: uuid.UUID,
    attempt: int,
    status: str,
    status_code: int | None,
    error: str | None,
    retry_in_s: float | None = None,
) -> bool:
    """Log one attempt and set the outcome (`pending` with a retry time, delivered, failed).

    Fenced by the attempt number: an attempt whose lease ran out writes nothing.
    """
    entry = func.jsonb_build_array(
        func.jsonb_build_object(
            "attempt",
            attempt,
            "at",
            func.now(),
            "status_code",
            status_code,
            "error",
            error,
        )
    )
    values: dict[str, Any] = {
        "status": status,
        "last_status_code": status_code,
        "last_error": error,
        "attempt_log": WebhookDelivery.attempt_log.op("||")(entry),
    }
    if status == "delivered":
        values["delivered_at"] = func.now()
    if retry_in_s is not None:
        values["next_attempt_at"] = func.now() + dt.timedelta(seconds=retry_in_s)
    updated = session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.id == delivery_id, WebhookDelivery.attempts == attempt)
        .values(**values)
    )
    return bool(updated.rowcount)  # type: ignore[attr-defined]


def take_overdue(*, session: Session, grace_s: float, limit: int = 500) -> list[uuid.UUID]:
    """Pending deliveries due for over `grace_s` (message lost or never sent), made due now.

    Resetting `next_attempt_at` means each stray is re-published at most once per grace.
    """
    stale = (
        select(WebhookDelivery.id)
        .where(
            WebhookDelivery.status == "pending",
            WebhookDelivery.next_attempt_at < func.now() - dt.timedelta(seconds=grace_s),
        )
        .order_by(WebhookDelivery.next_attempt_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )
    return list(
        session.scalars(
            update(WebhookDelivery)
            .where(WebhookDelivery.id.in_(stale))
            .values(next_attempt_at=func.now())
            .returning(WebhookDelivery.id)
        )
    )
