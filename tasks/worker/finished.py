"""What follows a job's terminal write: count it, log it, owe and send its webhooks."""

from __future__ import annotations

import re

import structlog

from schemas.jobs import ErrorType
from storage import webhooks as webhook_store
from storage.db import session_scope
from storage.jobs import Finished
from tasks.celery.publish import publish_webhooks
from tasks.observability import metrics

log = structlog.get_logger(__name__)

# tasks.engine.chain.brief writes "<n> error(s); first: <field path> [<type>]: <message>".
# The message may quote document values ("'Invoice ACME ...': amount is ..."); the field
# path and the pydantic error type before it are ours, so that head is all a log keeps.
_VALIDATION_HEAD = re.compile(r"\d+ error\(s\); first: [^\[\]\n]*\[[\w.-]+\]")


def loggable_error(error_type: str | None, message: str | None) -> str | None:
    """A job's stored error message as a log line may carry it: no document-derived values."""
    if not message:
        return message
    if error_type == ErrorType.VALIDATION_FAILED:
        head = _VALIDATION_HEAD.search(message)
        return message[: head.end()] if head else "[omitted]"
    if error_type == ErrorType.INTERNAL:  # "<Exception>: <str(exc)>": any text at all
        return message.partition(":")[0]
    if error_type == ErrorType.DOCUMENT_MISMATCH:  # after ":", the model says what it read
        return message.partition(":")[0]
    return message  # our own wording, or the provider's (redacted like every log field)


def on_job_finished(finished: Finished) -> None:
    """Call after the terminal write committed; never raises (the job is already finished).

    `finished` is what the write returned: the row and its `job.finished` delivery, owed in
    the same statement. The batch check runs after that commit on purpose: of two last jobs
    finishing together, the later one then sees both terminal (see
    storage.webhooks.owe_for_batch). Only a batch with a webhook pays for it.
    """
    try:
        job = finished.job
        metrics.JOBS_FINISHED.labels(status=job.status, tier=job.tier).inc()
        log.info(
            "job_finished",
            status=job.status,
            tier=job.tier,
            model=job.model,
            chunks=job.chunks,
            cache_hit=job.cache_hit,
            error_type=job.error_type,
            error=loggable_error(job.error_type, job.error_message),
            input_tokens=job.input_tokens,
            output_tokens=job.output_tokens,
            cost_usd=float(job.cost_usd),
        )
        owed = [finished.delivery_id]
        if job.batch_id is not None and finished.batch_webhook:
            # Autocommit: reads plus one idempotent INSERT need no transaction.
            with session_scope(autocommit=True) as session:
                owed.append(webhook_store.owe_for_batch(session=session, batch_id=job.batch_id))
        publish_webhooks(owed)
    except Exception:  # the reconciler re-sends deliveries whose message never went out
        log.warning("job_finished_hook_failed", exc_info=True)
