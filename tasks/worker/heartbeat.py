"""The job heartbeat (renews the job lease while an extraction runs) and the process beacon.

The beacon keeps this worker's liveness key in Redis (tasks/dispatch/liveness.py reads
it): when the process dies, the key expires within seconds and the reconciler requeues
its jobs then, instead of when their leases run out.
"""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass

import redis
import structlog

from tasks.flow import keys
from tasks.flow.connection import redis_client
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


class WorkerBeacon:
    """Rewrites this process's liveness key every `beat_s`; it expires `ttl_s` after the last."""

    def __init__(self, *, client: redis.Redis, worker_id: str, ttl_s: float, beat_s: float) -> None:
        if not 0 < beat_s < ttl_s:
            raise ValueError("need 0 < beat_s < ttl_s, or a live worker looks dead between beats")
        self._client, self.key = client, keys.worker_alive(worker_id)
        self._ttl_ms, self._beat_s = int(ttl_s * 1000), beat_s
        self._stop = threading.Event()
        self._failing = False
        self._thread = threading.Thread(target=self._run, daemon=True, name="worker-beacon")

    def beat(self) -> bool:
        """Write the key once; False (logged once per outage) when Redis does not answer."""
        try:
            self._client.set(self.key, "1", px=self._ttl_ms)
        except redis.RedisError as exc:
            if not self._failing:  # one line per outage, not one per beat
                log.warning("worker_beacon_failed", error=str(exc)[:200])
            self._failing = True
            return False
        self._failing = False
        return True

    def _run(self) -> None:
        while True:
            self.beat()
            if self._stop.wait(self._beat_s):
                return

    def start(self) -> WorkerBeacon:
        """Beat in a daemon thread until `stop` (or the process ends)."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop beating (the key then expires by itself)."""
        self._stop.set()
        self._thread.join(timeout=5)


_beacon: WorkerBeacon | None = None
_beacon_lock = threading.Lock()


def start_beacon(*, redis_url: str, worker_id: str, ttl_s: float, beat_s: float) -> WorkerBeacon:
    """Start this process's beacon once (later calls return the running one)."""
    global _beacon  # noqa: PLW0603 - one beacon per process is the point
    with _beacon_lock:
        if _beacon is None:
            client = redis_client(redis_url, socket_timeout=2, socket_connect_timeout=2)
            _beacon = WorkerBeacon(
                client=client, worker_id=worker_id, ttl_s=ttl_s, beat_s=beat_s
            ).start()
        return _beacon
