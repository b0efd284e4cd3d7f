"""The reconciler, a duty of the scheduler: make lost and abandoned work runnable again."""

from __future__ import annotations

import datetime as dt

import structlog

from schemas.config import Settings
from storage import dispatch as store
from storage import webhooks as webhook_store
from storage.budget import release_stale
from storage.db import session_scope
from tasks.celery.publish import publish_jobs, publish_webhooks

log = structlog.get_logger(__name__)
OVERDUE_GRACE_S = 60.0  # a pending webhook delivery this far past due lost its message


def republish_overdue(*, grace_s: float = OVERDUE_GRACE_S) -> int:
    """Re-send deliveries whose message was lost or never sent."""
    with session_scope() as session:
        ids = webhook_store.take_overdue(session=session, grace_s=grace_s)
    publish_webhooks(ids)
    return len(ids)


def reconcile_once(*, settings: Settings) -> None:
    """Make lost and abandoned jobs claimable again."""
    cfg = settings.app.dispatch
    with session_scope() as session:
        lost, dead = store.recover_stuck(
            session=session,
            queued_after=dt.timedelta(seconds=cfg.stuck_queued_s),
            running_grace=dt.timedelta(seconds=cfg.requeue_running_grace_s),
        )
        if lost:  # the same ids again, published before the commit like dispatch_once
            publish_jobs(lost)
        # A reservation outliving the hard time limit belongs to a crashed worker: settle it
        # from the ledger so the tenant's budget is not held forever.
        stale = release_stale(
            session=session, older_than=dt.timedelta(seconds=settings.app.celery.time_limit_s)
        )
    resent = republish_overdue()  # webhook deliveries whose message was lost or never sent
    if lost or dead or stale or resent:
        log.warning(
            "reconciled",
            requeued_queued=len(lost),
            requeued_running=dead,
            released_reservations=stale,
            resent_webhooks=resent,
        )
