"""Graceful shutdown's hand-back: release every held job, fenced by its attempt.

tasks/celery/shutdown.py connects this to Celery's `worker_shutting_down`; the threads
still in provider calls cannot be interrupted, so once their jobs are handed back anything
they write later is fenced out, their semaphore leases expire within the TTL, and the
process exits without them.
"""

from __future__ import annotations

import os
import sys
import threading
import time

import structlog

from tasks.observability.tracing import EXIT_FLUSH_S, shutdown_tracing
from tasks.worker.held import DRAINING, held_jobs
from tasks.worker.runtime import get_runtime

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
    store = get_runtime().store
    for job_id, attempt in held_jobs().items():
        try:
            released += store.release(job_id=job_id, attempt=attempt)
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
    shutdown_tracing(EXIT_FLUSH_S)  # os._exit skips atexit, where spans flush
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def start_hand_back() -> None:
    """Mark the process draining and hand back in the background."""
    DRAINING.set()
    # Not in the signal handler itself: the main thread it interrupted may hold locks.
    threading.Thread(target=hand_back_and_exit, name="shutdown-hand-back", daemon=True).start()
