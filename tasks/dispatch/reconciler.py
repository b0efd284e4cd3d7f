"""The reconciler, a duty of the scheduler: make lost and abandoned work runnable again."""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field

import redis
import structlog

from schemas.config import Settings
from storage import dispatch as store
from storage import webhooks as webhook_store
from storage.budget import release_for_jobs, release_stale
from storage.db import session_scope
from storage.ledger import close_orphans
from tasks.celery.publish import publish_jobs, publish_webhooks
from tasks.dispatch.liveness import WorkerWatch, alive_workers, read_epoch

log = structlog.get_logger(__name__)
ORPHAN_GRACE_S = 5.0  # an in-flight call this old whose attempt is gone lost its worker
OVERDUE_GRACE_S = 60.0  # a pending webhook delivery this far past due lost its message


@dataclass(frozen=True)
class Sighting:
    """What one pass learnt from Redis: whether it lost its data, whose jobs to requeue."""

    redis_lost: bool = False
    dead: list[store.Holding] = field(default_factory=list)
    # The scheduler's first look cannot tell a fresh Redis from a lost one: resend only what
    # an earlier scheduler published, not what this one sent a moment ago.
    lost_before: dt.datetime | None = None


@dataclass
class Recovery:
    """The fast path's state across passes: a Redis client and the workers' watch."""

    client: redis.Redis
    watch: WorkerWatch
    started: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))

    @classmethod
    def for_settings(cls, settings: Settings, client: redis.Redis) -> Recovery:
        """A recovery on `client`, with the configured liveness TTL."""
        return cls(client=client, watch=WorkerWatch(ttl_s=settings.app.dispatch.liveness_ttl_s))

    def look(self, holdings: list[store.Holding]) -> Sighting:
        """Read the epoch and the holders' liveness keys; Redis down means nothing is known."""
        try:
            epoch, created = read_epoch(self.client)
            alive = alive_workers(self.client, (h.worker for h in holdings))
        except redis.RedisError as exc:
            # Workers cannot beat either: no absence seen across the outage may count.
            self.watch.restart_clocks()
            log.warning("liveness_unreadable", error=str(exc)[:200])
            return Sighting()
        first = self.watch.epoch is None
        lost = self.watch.note_epoch(epoch, created=created)
        if lost:
            # At start, a missing epoch may be a fresh Redis as well as a lost one: resending
            # the published jobs is harmless either way (a duplicate is a no-op at claim).
            log.warning("redis_epoch_created" if first else "redis_data_lost", epoch=epoch)
            # every key is gone: nobody is dead for it
            return Sighting(redis_lost=True, lost_before=self.started if first else None)
        return Sighting(dead=self.watch.dead(holdings, alive=alive, now=time.monotonic()))


def republish_overdue(*, grace_s: float = OVERDUE_GRACE_S) -> int:
    """Re-send deliveries whose message was lost or never sent."""
    with session_scope() as session:
        ids = webhook_store.take_overdue(session=session, grace_s=grace_s)
    publish_webhooks(ids)
    return len(ids)


def reconcile_once(*, settings: Settings, recovery: Recovery | None = None) -> int:
    """Make lost and abandoned jobs claimable again; returns how many were requeued."""
    cfg = settings.app.dispatch
    with session_scope() as session:
        seen = Sighting()
        if recovery is not None:
            seen = recovery.look(store.running_holdings(session=session))
        lost, expired = store.recover_stuck(
            session=session,
            queued_after=dt.timedelta(seconds=cfg.stuck_queued_s),
            running_grace=dt.timedelta(seconds=cfg.requeue_running_grace_s),
        )
        if seen.redis_lost:  # every published message may be gone: send them all again now
            lost = list(
                dict(
                    [*lost, *store.republish_dispatched(session=session, before=seen.lost_before)]
                ).items()
            )
        abandoned = store.requeue_abandoned(session=session, holdings=seen.dead)
        if lost:  # the same ids again, published before the commit like dispatch_once
            publish_jobs(lost)
        # Calls a dead attempt left in flight are billed at their reserved cost before any
        # hold is settled from the ledger, so the settlement sees them.
        orphans = close_orphans(
            session=session,
            grace=dt.timedelta(seconds=ORPHAN_GRACE_S),
            max_call=dt.timedelta(seconds=settings.app.celery.time_limit_s),
        )
        # The holds of jobs just taken from their worker are settled at once; any other
        # reservation outliving the hard time limit belongs to a crashed worker too.
        freed = release_for_jobs(session=session, job_ids=[*expired, *abandoned])
        stale = release_stale(
            session=session, older_than=dt.timedelta(seconds=settings.app.celery.time_limit_s)
        )
    # webhook deliveries whose message was lost or never sent (all of them, if Redis lost data)
    resent = republish_overdue(grace_s=0.0 if seen.redis_lost else OVERDUE_GRACE_S)
    if lost or expired or abandoned or freed or stale or resent or orphans:
        log.warning(
            "reconciled",
            requeued_queued=len(lost),
            requeued_running=len(expired),
            requeued_dead_worker=len(abandoned),
            dead_workers=sorted({h.worker for h in seen.dead if h.job_id in abandoned}),
            released_reservations=freed + stale,
            resent_webhooks=resent,
            orphaned_calls=orphans,
            redis_lost=seen.redis_lost,
        )
    return len(expired) + len(abandoned)
