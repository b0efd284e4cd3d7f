"""What follows a job's terminal write: count it, log it, owe and send its webhooks."""

from __future__ import annotations

import uuid

import structlog

from storage import jobs as job_store
from storage import webhooks as webhook_store
from storage.db import session_scope
from tasks.celery.publish import publish_webhooks
from tasks.observability import metrics

log = structlog.get_logger(__name__)


def on_job_finished(job_id: uuid.UUID) -> None:
    """Call after the terminal write committed; never raises (the job is already finished).

    The batch check runs after that commit on purpose: of two last jobs finishing together,
    the later one then sees both terminal (see storage.webhooks.owe_for_batch).
    """
    try:
        # Autocommit: reads plus idempotent single-statement inserts need no transaction,
        # and every job pays this, so BEGIN and COMMIT round trips are worth saving.
        with session_scope(autocommit=True) as session:
            job = job_store.load_job(session=session, job_id=job_id)
            if job is None:
                return
            metrics.JOBS_FINISHED.labels(status=job.status, tier=job.tier).inc()
            log.info(
                "job_finished",
                status=job.status,
                tier=job.tier,
                model=job.model,
                chunks=job.chunks,
                cache_hit=job.cache_hit,
                error_type=job.error_type,
                error=job.error_message,
                input_tokens=job.input_tokens,
                output_tokens=job.output_tokens,
                cost_usd=float(job.cost_usd),
            )
            owed = [webhook_store.owe_for_job(session=session, job=job)]
            if job.batch_id is not None:
                owed.append(webhook_store.owe_for_batch(session=session, batch_id=job.batch_id))
        publish_webhooks(owed)
    except Exception:  # the reconciler re-sends deliveries whose message never went out
        log.warning("job_finished_hook_failed", exc_info=True)
