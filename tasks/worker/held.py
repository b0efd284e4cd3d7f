"""The jobs this process is running, and the drain flag a graceful shutdown sets.

At shutdown, the jobs still running when the grace period ends are handed back
(tasks/worker/handback.py) instead of waiting for their leases to expire.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from tasks.engine.ports import KillSwitch
from tasks.errors import Paused

_held: dict[uuid.UUID, int] = {}  # job id -> attempt
_held_lock = threading.Lock()
# Set when the grace period is over: claim nothing more, start no new provider call.
DRAINING = threading.Event()


def held_jobs() -> dict[uuid.UUID, int]:
    """A snapshot of the jobs (job id -> attempt) this process is running."""
    with _held_lock:
        return dict(_held)


@contextmanager
def holding(job_id: uuid.UUID, attempt: int) -> Iterator[None]:
    """Count the job as held by this process while the block runs."""
    with _held_lock:
        _held[job_id] = attempt
    try:
        yield
    finally:
        with _held_lock:
            if _held.get(job_id) == attempt:
                del _held[job_id]


@dataclass
class DrainAware:
    """The kill switch, also on while the worker drains: a released job stops calling out."""

    inner: KillSwitch

    def check(self) -> None:
        """Raise Paused while draining or while the kill switch is on."""
        if DRAINING.is_set():
            raise Paused("worker shutting down: the job was handed back")
        self.inner.check()
