"""The terminal write of a job: one statement that writes it, wakes the scheduler and owes
its `job.finished` webhook; and, for a retried finish, the row an earlier try wrote.

storage.jobs re-exports these; callers import them from there.
"""

from __future__ import annotations

import functools
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, Text, bindparam, case, cast, func, literal, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session, aliased

from schemas.jobs import JobStatus
from storage.db import JOBS_CHANNEL
from storage.ledger import IN_FLIGHT
from storage.models import Batch, Job, LlmCall
from storage.rows import moving
from storage.webhook_models import WebhookDelivery

_ACTIVE = (JobStatus.QUEUED, JobStatus.RUNNING)  # as storage.webhooks: no webhook for these


def usage_totals(job_id: Any, *, billed_only: bool = False) -> dict[str, Any]:
    """The job's ledger sums as subqueries of an UPDATE of it (no separate round trip).

    `billed_only` leaves out rows still in flight (a request out in a provider batch: its
    row carries the reserved worst case until the answer arrives).
    """

    def total(column: Any) -> Any:
        query = select(func.coalesce(func.sum(column), 0)).where(LlmCall.job_id == job_id)
        if billed_only:
            query = query.where(LlmCall.outcome != IN_FLIGHT)
        return query.scalar_subquery()

    return {
        "input_tokens": total(LlmCall.input_tokens),
        "output_tokens": total(LlmCall.output_tokens),
        "cost_usd": total(LlmCall.cost_usd),
    }


@dataclass(frozen=True)
class Finished:
    """A landed terminal write: the row as written, the `job.finished` delivery it owed
    (None: no job webhook, or owed before), and whether the job's batch has a webhook."""

    job: Job
    delivery_id: uuid.UUID | None = None
    batch_webhook: bool = False


def finish(
    *,
    session: Session,
    job_id: uuid.UUID,
    attempt: int,
    status: JobStatus,
    result: dict[str, Any] | None = None,
    model: str | None = None,
    chunks: int | None = None,
    cache_hit: bool = False,
    error_type: str | None = None,
    error_message: str | None = None,
    trust: dict[str, Any] | None = None,
) -> Finished | None:
    """Write the outcome of `attempt`, fenced: a stale attempt writes nothing (returns None).

    One statement: the UPDATE, the NOTIFY that wakes the scheduler (a slot freed) and the
    `job.finished` delivery when the job has a webhook_url; `batch.finished` is the
    caller's, after this committed (storage.webhooks.owe_for_batch).
    Usage is summed from the ledger, so every billed call (re-asks, failed attempts) counts.
    `trust` holds the trust columns (evidence, confidence, review_state, document_fit,
    warnings, ocr_pages) when the worker assessed the result.
    """
    values: dict[str, Any] = {
        **(trust or {}),
        "status": status,
        "result": result,
        "chunks": chunks,
        "cache_hit": cache_hit,
        "error_type": error_type,
        "error_message": error_message,
    }
    if model is not None:
        values["model"] = model
    params = {f"v_{name}": value for name, value in values.items()}
    row: Any = session.execute(
        _finish_statement(status, tuple(sorted(values))),
        {**params, "job_id": job_id, "attempt": attempt},
        execution_options={"populate_existing": True},
    ).one_or_none()
    return None if row is None else Finished(row[0], row[1], bool(row[2]))


@functools.lru_cache(maxsize=64)
def _finish_statement(status: JobStatus, columns: tuple[str, ...]) -> Select[Any]:
    """The finish statement for a status and the columns it sets, built once: values are
    bound parameters (`v_<column>`, `job_id`, `attempt`). Building this statement anew per
    job was profiled at over 40% of a worker's CPU."""
    table = Job.__table__
    job_id = bindparam("job_id", type_=table.c.id.type)
    values: dict[str, Any] = {c: bindparam(f"v_{c}", type_=table.c[c].type) for c in columns}
    values.update(finished_at=func.now(), lease_expires_at=None, **usage_totals(job_id))
    done = (
        update(Job)
        .where(
            Job.id == job_id,
            Job.attempts == bindparam("attempt", type_=table.c.attempts.type),
            moving(from_=(JobStatus.RUNNING,), to=status),
        )
        .values(**values)
        .returning(*table.c)
        .cte("done")
    )
    owed = _owe_job_finished(done.c).cte("owed")
    return select(
        aliased(Job, done),
        select(owed.c.id).scalar_subquery(),
        _batch_webhook(done.c.batch_id),
        # once per written row: a fenced finish wakes nobody
        func.pg_notify(JOBS_CHANNEL, ""),
    )


def landed(
    *, session: Session, job_id: uuid.UUID, attempt: int, status: JobStatus
) -> Finished | None:
    """The finish an earlier try of `attempt` wrote (its answer lost), or None if it did not.

    Its NOTIFY and delivery committed with it; a delivery still pending is returned to be
    published again (a duplicate message finds it leased).
    """
    pending = select(WebhookDelivery.id).where(
        WebhookDelivery.dedupe_key == f"job.finished:{job_id}:{attempt}",
        WebhookDelivery.status == "pending",
    )
    row: Any = session.execute(
        select(Job, pending.scalar_subquery(), _batch_webhook(Job.batch_id)).where(
            Job.id == job_id, Job.attempts == attempt, Job.status == status
        ),
        execution_options={"populate_existing": True},
    ).one_or_none()
    return None if row is None else Finished(row[0], row[1], bool(row[2]))


def _batch_webhook(batch_id: Any) -> Any:
    """Whether the batch `batch_id` has a webhook_url (NULL without a batch)."""
    hooked = func.coalesce(Batch.webhook_url, "") != ""
    return select(hooked).where(Batch.id == batch_id).scalar_subquery()


def _owe_job_finished(done: Any) -> Any:
    """INSERT the `job.finished` delivery of the row `done` when it has a webhook_url.

    As storage.webhooks.owe_for_job, with its dedupe key and job_payload's body built in
    SQL (a test holds the two equal).
    """
    payload = func.jsonb_build_object(
        *("event", "job.finished", "id", cast(done.id, Text), "status", done.status),
        *("batch_id", cast(done.batch_id, Text), "schema", done.schema_name),
        *("tier", done.tier, "model", done.model, "attempts", done.attempts),
        "error",
        case(
            (
                func.coalesce(done.error_type, "") != "",
                func.jsonb_build_object(
                    "type", done.error_type, "message", func.coalesce(done.error_message, "")
                ),
            )
        ),
        "usage",
        func.jsonb_build_object(
            *("input_tokens", done.input_tokens, "output_tokens", done.output_tokens),
            *("cost_usd", cast(done.cost_usd, Text)),
        ),
        *("created_at", _isoformat(done.created_at), "finished_at", _isoformat(done.finished_at)),
    )
    key = func.concat("job.finished:", cast(done.id, Text), ":", cast(done.attempts, Text))
    columns = ["id", "tenant_id", "job_id", "event", "url", "dedupe_key", "payload"]
    row = select(
        *(func.gen_random_uuid(), done.tenant_id, done.id, literal("job.finished")),
        *(done.webhook_url, key, payload, literal("pending"), literal(0)),
        func.jsonb_build_array(),
    ).where(func.coalesce(done.webhook_url, "") != "", done.status.not_in(_ACTIVE))
    return (
        insert(WebhookDelivery)
        .from_select([*columns, "status", "attempts", "attempt_log"], row)
        .on_conflict_do_nothing(index_elements=["dedupe_key"])
        .returning(WebhookDelivery.id)
    )


def _isoformat(ts: Any) -> Any:
    """A timestamptz as Python's isoformat() writes it: in the session's zone (psycopg hands
    Python the value in that zone too), microseconds only when there are some."""
    micros = case((func.date_trunc("second", ts) != ts, func.to_char(ts, ".US")), else_="")
    return func.concat(
        func.to_char(ts, 'YYYY-MM-DD"T"HH24:MI:SS'), micros, func.to_char(ts, "TZH:TZM")
    )
