"""The job heartbeat: renews the job lease while an extraction runs."""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass

import structlog

from tasks.worker.ports import JobStore

log = structlog.get_logger(__name__)


@dataclass
class Heartbeat:
    """Renews the job lease while the extraction runs, so recovery never steals it."""

    store: JobStore
    job_id: uuid.UUID
    attempt: int
    lease_s: float
    interval_s: float

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self.lost = False
        self._thread = threading.Thread(target=self._run, daemon=True, name="job-heartbeat")

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                if not self.store.renew_lease(
                    job_id=self.job_id, attempt=self.attempt, lease_s=self.lease_s
                ):
                    self.lost = True
                    return
            except Exception:  # noqa: BLE001 - a missed beat is retried at the next interval
                log.warning("lease_renew_failed", job_id=str(self.job_id))

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
