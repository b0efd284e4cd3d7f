"""The scheduler process: publish queued jobs fairly to tier queues, and reconcile strays.

The reconciler (tasks/dispatch/reconciler.py) is one of its duties, run every few seconds.
Several may run: one leads (tasks/dispatch/leader.py), the others stand by.
"""

from __future__ import annotations

import select as select_mod
import signal
import threading
import time
from types import FrameType

import psycopg
import structlog

from schemas.config import TIERS, Settings, get_settings
from storage import dispatch as store
from storage import picks, pooler
from storage.db import JOBS_CHANNEL, session_scope
from tasks.celery.app import trace_process
from tasks.celery.publish import publish_jobs
from tasks.dispatch.leader import Leadership
from tasks.dispatch.reconciler import Recovery, reconcile_once
from tasks.engine.ports import KillSwitch
from tasks.errors import Paused
from tasks.flow.connection import redis_client
from tasks.flow.killswitch import RedisKillSwitch
from tasks.housekeeping import service as housekeeping
from tasks.observability.heartbeat import Heartbeat

log = structlog.get_logger(__name__)
RECONCILE_EVERY_S = 2.0
# Jobs per transaction: a worker's claim waits on the picked rows' locks until the commit,
# so a big round would hold the first job back until its last message is published.
PUBLISH_CHUNK = 64
# Picks in a row that may find only stale heads (tenants whose waiting jobs were cancelled
# or parked since): each raises the heads it read, so the next reaches the next tenants.
STALE_ROUNDS = 8


def dispatch_once(*, settings: Settings, killswitch: KillSwitch | None = None) -> int:
    """Publish one round of work for every tier; returns how many jobs went out.

    Messages are published before the transaction commits: a crash in between leaves the
    job undispatched (it is published again, and the duplicate is a no-op at claim time),
    never a committed job without a message.
    """
    if killswitch is not None:
        try:
            killswitch.check()
        except Paused:
            return 0  # paused: jobs wait in Postgres, none is published or failed
    sent = 0
    cfg = settings.app.dispatch
    for tier in TIERS:
        for _ in range(STALE_ROUNDS):
            with session_scope() as session:
                picks.serialize_rounds(session=session)
                room = cfg.max_outstanding - store.outstanding(session=session, tier=tier)
                picked = picks.pick(session=session, tier=tier, limit=min(room, PUBLISH_CHUNK))
                if picked.job_ids:
                    publish_jobs((job_id, tier) for job_id in picked.job_ids)
                    store.mark_dispatched(session=session, job_ids=picked.job_ids)
                    sent += len(picked.job_ids)
                picks.refresh_heads(session=session, tier=tier, tenants=picked.tenants)
            if picked.job_ids or not picked.tenants:
                break  # published (the loop comes back at once), or nothing waits
    return sent


def _listener(url: str) -> psycopg.Connection[tuple[object, ...]]:
    # A direct URL when DATABASE_URL names a transaction pooler: LISTEN and the leader's
    # session-level lock need a session of their own (storage/pooler.py).
    conn = psycopg.connect(url, autocommit=True, connect_timeout=5)
    conn.execute(f"LISTEN {JOBS_CHANNEL}")
    return conn


def _wait(conn: psycopg.Connection[tuple[object, ...]] | None, poll: float) -> None:
    """Until a NOTIFY arrives or `poll` seconds pass (only the latter, when polling)."""
    if conn is None:
        time.sleep(poll)
        return
    select_mod.select([conn.fileno()], [], [], poll)
    for _ in conn.notifies(timeout=0, stop_after=1000):
        pass


def _say_polling(poll: float) -> None:
    # Side by side is safe: every round takes the transaction-level dispatch lock.
    log.warning(
        "scheduler_polling",
        reason="DATABASE_URL names a transaction pooler and DATABASE_LISTEN_URL is not "
        "set: no LISTEN and no leader lock; every scheduler dispatches each poll",
        poll_interval_s=poll,
    )


def _stopped_by_signals() -> threading.Event:
    """An event set by SIGTERM or SIGINT: the loop ends after the current round."""
    stop = threading.Event()

    def _stop(_sig: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    return stop


def run_forever() -> None:
    """Dispatch on NOTIFY (or every poll interval) and reconcile every few seconds."""
    settings = get_settings()
    trace_process("docqueue-scheduler")  # only when OTEL_EXPORTER_OTLP_ENDPOINT is set
    stop = _stopped_by_signals()
    poll = settings.app.dispatch.poll_interval_s
    direct = pooler.session_url(settings)
    conn: psycopg.Connection[tuple[object, ...]] | None = None
    last_reconcile = 0.0
    client = redis_client(settings.redis_url, socket_timeout=5)
    switch = RedisKillSwitch(client)
    recovery = Recovery.for_settings(settings, client)
    leadership = Leadership()
    heartbeat = Heartbeat(settings.heartbeat_file)  # a standby beats too: its loop turns
    swept = threading.Event()
    # Polling (no leader lock): every scheduler sweeps; each chunk locks its rows.
    housekeeping.run_in_background(
        settings=settings, leading=lambda: direct is None or leadership.leading, stop=swept
    )
    log.info("scheduler_started")
    if direct is None:
        _say_polling(poll)
    while not stop.is_set():
        heartbeat.beat()
        try:
            if conn is None and direct is not None:
                conn = _listener(direct)
            if conn is not None and not leadership.check(conn):
                _wait(conn, poll)  # a standby: try again after a poll interval
                continue
            sent = dispatch_once(settings=settings, killswitch=switch)
            if time.monotonic() - last_reconcile > RECONCILE_EVERY_S:
                sent += reconcile_once(settings=settings, recovery=recovery)
                last_reconcile = time.monotonic()
            if sent:
                continue  # more may be waiting (or just requeued): loop without sleeping
            _wait(conn, poll)
        except (psycopg.Error, OSError, ConnectionError) as exc:
            # Postgres or Redis restarting: keep the process, reconnect after a pause.
            log.warning("scheduler_backoff", error=str(exc)[:200])
            if conn is not None:
                conn.close()
                conn = None
            leadership.lost()  # the lock went with the connection
            time.sleep(1.0)
        except Exception as exc:
            log.exception("scheduler_error", error=str(exc)[:200])
            time.sleep(1.0)
    swept.set()
    log.info("scheduler_stopped")
