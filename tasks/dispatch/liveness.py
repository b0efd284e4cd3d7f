"""Which workers are dead, from their liveness keys, without mistaking a Redis loss for a death.

Every worker process rewrites `dq:worker:<id>:alive` every few seconds with a short TTL
(tasks/worker/heartbeat.py). A worker counts as dead, and its running jobs are requeued,
only when all of these hold:

- the reconciler has seen its key at least once (a worker that never beat, e.g. one of an
  older release, is left to its lease expiring, the slow path);
- its key has been missing on every pass for a whole TTL (a live worker whose key was
  evicted or missed one beat rewrites it well within that);
- Redis did not lose its data within that TTL: a Redis restart or FLUSHALL deletes every
  liveness key at once, so the absence clocks restart when the epoch changes, and live
  workers have a whole TTL to write their keys again;
- the job's lease has not moved since the worker went missing (a worker renewing its
  leases in Postgres is alive, whatever Redis says). The requeue itself is fenced on that
  lease too (storage.dispatch.requeue_abandoned).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field

import redis

from storage.dispatch import Holding
from tasks.flow import keys

FORGET_AFTER_S = 3600.0  # a worker neither seen nor holding anything for this long is forgotten


@dataclass
class WorkerWatch:
    """The reconciler's memory between passes: the Redis epoch and who went missing when.

    Times are the caller's monotonic clock; nothing here talks to Redis or Postgres.
    """

    ttl_s: float
    forget_after_s: float = FORGET_AFTER_S
    epoch: str | None = None
    seen: dict[str, float] = field(default_factory=dict)  # worker -> last time its key was there
    missing_since: dict[str, float] = field(default_factory=dict)
    leases: dict[tuple[uuid.UUID, int], dt.datetime | None] = field(default_factory=dict)

    def note_epoch(self, epoch: str, *, created: bool) -> bool:
        """Record Redis's epoch; True when Redis lost its data since the last pass."""
        lost = created or (self.epoch is not None and epoch != self.epoch)
        self.epoch = epoch
        if lost:
            self.restart_clocks()
        return lost

    def restart_clocks(self) -> None:
        """Forget every absence seen so far (Redis lost its keys, or could not be read)."""
        self.missing_since.clear()
        self.leases.clear()

    def dead(self, holdings: Iterable[Holding], *, alive: set[str], now: float) -> list[Holding]:
        """The holdings of dead workers, to requeue now."""
        held = list(holdings)
        workers = {h.worker for h in held}
        for worker in workers & alive:
            self.seen[worker] = now
            self.missing_since.pop(worker, None)
        for worker in workers - alive:
            if worker in self.seen:
                self.missing_since.setdefault(worker, now)
        self._forget(workers, now)
        renewed: set[str] = set()
        for h in held:
            if h.worker not in self.missing_since:
                continue
            first = self.leases.setdefault((h.job_id, h.attempt), h.lease_expires_at)
            if first != h.lease_expires_at:  # the lease moved: the worker lives, its key is gone
                renewed.add(h.worker)
                self.leases[(h.job_id, h.attempt)] = h.lease_expires_at
        for worker in renewed:
            self.missing_since[worker] = now
        watched = {(h.job_id, h.attempt) for h in held if h.worker in self.missing_since}
        self.leases = {k: v for k, v in self.leases.items() if k in watched}
        return [
            h
            for h in held
            if h.worker in self.missing_since and now - self.missing_since[h.worker] >= self.ttl_s
        ]

    def _forget(self, workers: set[str], now: float) -> None:
        for worker in [w for w in self.missing_since if w not in workers]:
            del self.missing_since[worker]  # holds nothing any more: nothing to reclaim
        for worker in [w for w, t in self.seen.items() if now - t > self.forget_after_s]:
            if worker not in workers:
                del self.seen[worker]


def read_epoch(client: redis.Redis) -> tuple[str, bool]:
    """Redis's epoch value, and whether this call created it (so the data had been lost)."""
    raw = client.get(keys.EPOCH)
    created = False
    if raw is None:
        created = bool(client.set(keys.EPOCH, uuid.uuid4().hex, nx=True))
        raw = client.get(keys.EPOCH)
    value = raw.decode() if isinstance(raw, bytes) else str(raw or "")
    return value, created


def alive_workers(client: redis.Redis, workers: Iterable[str]) -> set[str]:
    """The workers among `workers` whose liveness key exists, in one round trip."""
    names = sorted(set(workers))
    if not names:
        return set()
    with client.pipeline(transaction=False) as pipe:
        for name in names:
            pipe.exists(keys.worker_alive(name))
        flags = pipe.execute()
    return {name for name, flag in zip(names, flags, strict=True) if flag}
