"""Graceful worker shutdown: when the grace period is over, hand back the jobs still running.

`docqueue worker` maps SIGTERM to Celery's cold shutdown with a soft-shutdown wait of
`celery.shutdown_grace_s`: the consumer stops (no new jobs) and running jobs get that long
to finish. Celery then cancels the rest and sends `worker_shutting_down`; here every job
this process still holds is released in Postgres, fenced by its attempt, so the scheduler
re-dispatches it at once rather than after its lease expires. The threads running those
jobs sit in provider calls that cannot be interrupted, and waiting for them would make the
exit unbounded; once their jobs are handed back, anything they write later is fenced out,
their semaphore leases expire within the TTL, and the process exits without them.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from typing import Any

import structlog
from celery import signals

from storage import jobs as job_store
from storage.db import session_scope
from tasks.worker.process import DRAINING, held_jobs

log = structlog.get_logger(__name__)

# After the hand-back, Celery's own teardown (closing the broker connection, requeueing
# unacknowledged messages) gets this long; then the process exits regardless (normally
# tasks.celery.pool.Worker leaves as soon as that teardown is done).
EXIT_ALLOWANCE_S = 5.0
_handed_back = threading.Event()


def wait_for_hand_back(timeout_s: float = EXIT_ALLOWANCE_S) -> None:
    """Block until a started hand-back has released its jobs (no-op when none started)."""
    if DRAINING.is_set():
        _handed_back.wait(timeout_s)


def release_held() -> int:
    """Hand every job this process still holds back to the queue; returns how many."""
    released = 0
    for job_id, attempt in held_jobs().items():
        try:
            with session_scope() as session:
                released += job_store.release(session=session, job_id=job_id, attempt=attempt)
        except Exception:  # e.g. Postgres down: the lease expires and the reconciler requeues
            log.warning("shutdown_release_failed", job_id=str(job_id), exc_info=True)
    return released


def hand_back_and_exit(*, allowance_s: float = EXIT_ALLOWANCE_S) -> None:
    """Release the held jobs, give Celery `allowance_s` to tear down, then leave."""
    DRAINING.set()
    released = release_held()
    log.warning("shutdown_jobs_handed_back", released=released)
    _handed_back.set()
    time.sleep(allowance_s)
    # Still here: the interpreter is waiting for threads stuck in provider calls.
    log.warning("shutdown_forced_exit", threads_still_busy=len(held_jobs()))
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def _on_shutting_down(how: str = "", **_: Any) -> None:
    """After a cold shutdown's grace period, hand back what is left (in the background)."""
    if how != "Cold":
        return  # a warm shutdown (a first Ctrl+C) waits for every job by design
    DRAINING.set()
    # Not in the signal handler itself: the main thread it interrupted may hold locks.
    threading.Thread(target=hand_back_and_exit, name="shutdown-hand-back", daemon=True).start()


signals.worker_shutting_down.connect(_on_shutting_down, weak=False)
