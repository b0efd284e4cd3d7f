"""Celery's worker and threads pool, fitted for a graceful SIGTERM.

On SIGTERM the worker runs Celery's soft shutdown (`worker_soft_shutdown_timeout`), then
cancels the requests still running. Stock Celery sleeps the whole timeout even when the
last job finishes a second in; `Worker` stops waiting once nothing runs. And the stock
threads pool cannot do the cancelling part: it has no
`terminate_job` (cancelling raises NotImplementedError and the worker then waits for every
thread, however long its provider call takes) and its results have no `terminate`. A thread
cannot be killed, so cancelling here does nothing to the thread: the job it holds is handed
back through Postgres instead (`tasks/worker/handback.py`), where the attempt fence makes whatever
the thread writes later a no-op.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from typing import Any

from celery import signals
from celery.apps import worker
from celery.concurrency import thread
from celery.worker import state

from tasks.observability.tracing import EXIT_FLUSH_S, shutdown_tracing

logger = logging.getLogger(__name__)
_ready = threading.Event()  # set once the worker consumes: a crash after that restarts it
signals.worker_ready.connect(lambda **_: _ready.set(), weak=False)


def _running() -> int:
    """Requests executing on a pool thread (scheduled retries wait in the timer: not these)."""
    while True:
        try:
            return sum(1 for r in tuple(state.active_requests) if r.time_start)
        except RuntimeError:  # a thread finished a request mid-iteration: look again
            continue


class Worker(worker.Worker):  # type: ignore[misc]  # celery ships no type hints
    """The worker process; its soft shutdown ends as soon as no task is running."""

    def start(self) -> None:
        """Run until shut down, then leave without the interpreter's own teardown."""
        super().start()
        from tasks.worker.handback import release_held, wait_for_hand_back  # lazy: engine

        wait_for_hand_back()  # the jobs still running must be released before we go
        # Stopped without being asked to: Celery gave up after an "unrecoverable" error, e.g.
        # kombu's race between a lost broker connection and pool threads acking on it. With
        # no supervisor to restart us the worker would stay dead, so start afresh.
        crashed = bool(self.exitcode) and not (state.should_stop or state.should_terminate)
        if crashed:
            logger.error("worker stopped on its own; handed back %d job(s)", release_held())
        shutdown_tracing(EXIT_FLUSH_S)  # os._exit and execv skip atexit, where spans flush
        # Results live in Postgres, the broker connection is closed: what is left is seconds
        # of finalising a big interpreter (under load), and joining threads still stuck in
        # provider calls whose jobs were handed back (tasks/worker/handback.py).
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        if crashed and _ready.is_set():  # a worker that never got ready exits: no boot loop
            time.sleep(1.0)
            os.execv(sys.executable, [sys.executable, *sys.orig_argv[1:]])  # noqa: S606 - ourselves
        os._exit(self.exitcode or 0)

    def wait_for_soft_shutdown(self) -> None:
        """Wait up to `worker_soft_shutdown_timeout` for running tasks, not always all of it."""
        timeout = float(self.app.conf.worker_soft_shutdown_timeout)
        if timeout <= 0 or not _running():
            return
        logger.warning("soft shutdown: up to %.1f s for %d running task(s)", timeout, _running())
        deadline = time.monotonic() + timeout
        while _running() and time.monotonic() < deadline:
            time.sleep(0.1)


class _Result(thread.ApplyResult):  # type: ignore[misc]  # celery ships no type hints
    """A running task's handle; `terminate` is a no-op because threads cannot be killed."""

    def terminate(self, signum: int | None = None) -> None:
        """Leave the thread alone (its job is released, and fenced, elsewhere)."""


class TaskPool(thread.TaskPool):  # type: ignore[misc]
    """The threads pool with cancellation that never blocks or raises."""

    def terminate_job(self, pid: int, signal: int | None = None) -> None:
        """Accept Celery's cancel request; there is no thread to kill."""

    def on_apply(self, *args: Any, **kwargs: Any) -> _Result:
        """Run the task on a thread, returning a handle Celery may `terminate`."""
        return _Result(super().on_apply(*args, **kwargs).f)

    def on_stop(self) -> None:
        """Warm stop waits for running tasks; cold stop (after the grace period) does not."""
        self.executor.shutdown(wait=not state.should_terminate, cancel_futures=True)
