"""The batcher's verbs: pack parked items into provider batches, record them, ingest results.

Every verb is safe to repeat after a crash: packing is one transaction, a provider batch
row exists (state `preparing`, our submission id) before the provider's create, and an
item's result is ingested under its row lock only while the item is still `packed`.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import func, select, text, update
from sqlalchemy.orm import Session

from storage.lane_models import LaneItem, ProviderBatch
from storage.lane_results import refund

LINE_OVERHEAD = 160  # bytes a JSONL line adds around its body (custom_id, method, url)


def parked_models(*, session: Session) -> list[tuple[str, str]]:
    """The (provider, model) pairs with parked items."""
    rows = session.execute(
        select(LaneItem.provider, LaneItem.model).where(LaneItem.state == "parked").distinct()
    ).all()
    return [(p, m) for p, m in rows]


def drop_orphans(*, session: Session) -> int:
    """Refund parked items whose job left the queue (cancelled): nothing was sent."""
    rows = session.execute(
        text(
            """
            SELECT i.id, i.call_id, i.reservation_id
            FROM lane_items i JOIN jobs j ON j.id = i.job_id
            WHERE i.state = 'parked' AND (j.status <> 'queued' OR j.parked_at IS NULL)
            FOR UPDATE OF i SKIP LOCKED
            """
        )
    ).all()
    for item_id, call_id, reservation_id in rows:
        refund(session, call_id, reservation_id)
        session.execute(
            update(LaneItem)
            .where(LaneItem.id == item_id)
            .values(state="cancelled", resolved_at=func.now())
        )
    return len(rows)


def pack(
    *,
    session: Session,
    provider: str,
    model: str,
    max_requests: int,
    max_bytes: int,
    flush_size: int,
    max_wait: dt.timedelta,
) -> uuid.UUID | None:
    """Move parked items of one model into a new `preparing` provider batch, when due.

    Due: `flush_size` items wait, or the oldest has waited `max_wait`. The batch holds at
    most `max_requests` items and `max_bytes` of JSONL; the rest wait for the next one.
    """
    # Core text statements: no ORM compile on a batcher's first round
    count, oldest, now = (
        session.connection().execute(_DUE, {"provider": provider, "model": model}).one()
    )
    if not count:
        return None
    if count < flush_size and oldest > now - max_wait:
        return None
    batch_id = uuid.uuid4()
    packed = (
        session.connection()
        .execute(
            _PACK,
            {
                "batch": batch_id,
                "provider": provider,
                "model": model,
                "max_requests": max_requests,
                "max_bytes": max_bytes,
                "overhead": LINE_OVERHEAD,
            },
        )
        .scalar_one()
    )
    return batch_id if packed else None


_DUE = text(
    """
    SELECT count(*), min(created_at), now() FROM lane_items
    WHERE state = 'parked' AND provider = :provider AND model = :model
    """
)

# One statement: lock the oldest parked items (SKIP LOCKED: another packer's are not ours),
# keep the longest prefix that fits `max_bytes` (the first item always: alone it fits the
# provider's own limit), record the batch and move the items into it. The job test is a
# per-item subquery on the primary key: a join let a planner with stale statistics (a
# table just filled) pick a nested loop over every queued job for every item.
_PACK = text(
    """
    WITH picked AS (
        SELECT i.id, i.request_bytes, i.created_at FROM lane_items i
        WHERE i.state = 'parked' AND i.provider = :provider AND i.model = :model
          AND (SELECT j.status = 'queued' AND j.parked_at IS NOT NULL
               FROM jobs j WHERE j.id = i.job_id)
        ORDER BY i.created_at, i.id
        LIMIT :max_requests
        FOR UPDATE OF i SKIP LOCKED
    ), sized AS (
        SELECT id, request_bytes + :overhead AS line_bytes,
               row_number() OVER w AS n, sum(request_bytes + :overhead) OVER w AS running
        FROM picked WINDOW w AS (ORDER BY created_at, id)
    ), taken AS (
        SELECT id, line_bytes FROM sized WHERE n = 1 OR running <= :max_bytes
    ), batch AS (
        INSERT INTO provider_batches (id, provider, model, request_count, request_bytes)
        SELECT :batch, :provider, :model, count(*), sum(line_bytes) FROM taken
        HAVING count(*) > 0
        RETURNING id
    ), packed AS (
        UPDATE lane_items i SET state = 'packed', provider_batch_id = b.id
        FROM taken t, batch b WHERE i.id = t.id
        RETURNING 1
    )
    SELECT count(*) FROM packed
    """
)


def open_batches(*, session: Session) -> list[ProviderBatch]:
    """Every provider batch not yet ingested, oldest first (a restarted batcher's work)."""
    return list(
        session.scalars(
            select(ProviderBatch)
            .where(ProviderBatch.state != "done")
            .order_by(ProviderBatch.created_at)
        )
    )


def batch_requests(*, session: Session, batch_id: uuid.UUID) -> list[tuple[str, str]]:
    """The (custom_id, body as JSON text) of a provider batch's items, in packing order."""
    rows = session.connection().execute(
        text(
            "SELECT custom_id, CAST(body AS text) FROM lane_items"
            " WHERE provider_batch_id = :batch ORDER BY id"
        ),
        {"batch": batch_id},
    )
    return [(c, b) for c, b in rows]


def mark_submitted(
    *,
    session: Session,
    batch_id: uuid.UUID,
    provider_batch_id: str,
    input_file_id: str | None,
    status: str,
    expires_at: dt.datetime | None,
) -> None:
    """Record the provider's batch for our submission."""
    session.execute(
        update(ProviderBatch)
        .where(ProviderBatch.id == batch_id)
        .values(
            state="submitted",
            provider_batch_id=provider_batch_id,
            input_file_id=input_file_id,
            provider_status=status,
            expires_at=expires_at,
            submitted_at=func.now(),
        )
    )


def record_status(
    *,
    session: Session,
    batch_id: uuid.UUID,
    status: str,
    counts: dict[str, int],
    error: str | None,
    done: bool,
) -> None:
    """The provider's latest word on a batch; `done` once every result is ingested."""
    values: dict[str, Any] = {"provider_status": status, "counts": counts, "error": error}
    if done:
        values.update(state="done", ended_at=func.now())
    session.execute(update(ProviderBatch).where(ProviderBatch.id == batch_id).values(**values))


def open_provider_batch_ids(*, session: Session, provider: str) -> set[str]:
    """Provider batches recorded for open rows: a batch unfinished at the provider is one."""
    return set(
        session.scalars(
            select(ProviderBatch.provider_batch_id).where(
                ProviderBatch.provider == provider,
                ProviderBatch.state != "done",
                ProviderBatch.provider_batch_id.is_not(None),
            )
        )
    )


def pending_custom_ids(*, session: Session, batch_id: uuid.UUID) -> list[str]:
    """Items of a batch still waiting for a result."""
    return list(
        session.scalars(
            select(LaneItem.custom_id).where(
                LaneItem.provider_batch_id == batch_id, LaneItem.state == "packed"
            )
        )
    )


def cancellable(*, session: Session) -> list[tuple[uuid.UUID, str, str]]:
    """Submitted provider batches whose every item's job was cancelled: (id, provider, its id).

    Their results would be discarded: cancelling stops the provider doing (and billing) the
    rest. Items it already answered are still billed, to the tenant who cancelled.
    """
    rows = session.execute(
        text(
            """
            SELECT b.id, b.provider, b.provider_batch_id FROM provider_batches b
            WHERE b.state = 'submitted' AND b.provider_batch_id IS NOT NULL
              AND COALESCE(b.provider_status, '') NOT IN ('cancelling', 'canceling', 'cancelled')
              AND NOT EXISTS (SELECT 1 FROM lane_items i JOIN jobs j ON j.id = i.job_id
                              WHERE i.provider_batch_id = b.id AND j.status <> 'cancelled')
            """
        )
    ).all()
    return [(r[0], r[1], r[2]) for r in rows]
