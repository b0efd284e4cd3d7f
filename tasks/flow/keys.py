"""Every Redis key of flow control, in one place: the workers, the metrics and the tests share it.

A semaphore's, a bucket's and a breaker's keys all carry the hash tag ``{key}`` (the model's
name), so every multi-key Lua script stays legal on Redis Cluster (all of one script's keys on
one slot), the call gate's too: it touches all three mechanisms of one model in one script.
"""

from __future__ import annotations

from dataclasses import dataclass

PREFIX = "dq"
KILLSWITCH = f"{PREFIX}:killswitch"  # set = on; its value is JSON {"reason", "since"}
# A random value per Redis dataset, set (NX) by the reconciler: a new value means Redis lost
# its data (restart without persistence, FLUSHALL), and with it every queued message.
EPOCH = f"{PREFIX}:epoch"


def worker_alive(worker: str) -> str:
    """The short-lived key a worker process rewrites while it lives (`jobs.worker` names it)."""
    return f"{PREFIX}:worker:{worker}:alive"


def webhook_slots(tenant_id: str) -> str:
    """The semaphore key bounding one tenant's webhook deliveries in flight."""
    return f"webhooks:{tenant_id}"


@dataclass(frozen=True)
class SemaphoreKeys:
    """The keys of one semaphore; `script_keys` is the KEYS order its scripts expect."""

    leases: str  # zset token -> expiry (ms, Redis clock)
    expired: str  # counter of leases that expired unreleased
    waiters: str  # zset token -> ticket: the line, in arrival order
    waiters_ttl: str  # zset token -> expiry of a waiter that stopped polling
    ticket: str  # counter for tickets and fences alike
    fences: str  # hash token -> fence of each live lease
    wake_prefix: str  # + token: the list a waiter blocks on until woken

    @property
    def script_keys(self) -> list[str]:
        """KEYS[1..6] of the semaphore scripts."""
        return [self.leases, self.expired, self.waiters, self.waiters_ttl, self.ticket, self.fences]


def semaphore(key: str) -> SemaphoreKeys:
    """The keys of the semaphore on `key` (usually a model name)."""
    base = f"{PREFIX}:sem:{{{key}}}"
    return SemaphoreKeys(
        leases=f"{base}:leases",
        expired=f"{base}:expired",
        waiters=f"{base}:waiters",
        waiters_ttl=f"{base}:waiters:ttl",
        ticket=f"{base}:ticket",
        fences=f"{base}:fences",
        wake_prefix=f"{base}:wake:",
    )


def bucket(key: str) -> str:
    """The hash (level, ts) of the tokens-per-minute bucket on `key`."""
    return f"{PREFIX}:tpm:{{{key}}}"


@dataclass(frozen=True)
class BreakerKeys:
    """The keys of one model's breaker; `script_keys` is the KEYS order its scripts expect."""

    state: str  # hash: state (closed|open), opened_at, consec, opened_total
    win: str  # hash: per-second buckets "c:<sec>" (calls), "f:<sec>" (failures)
    probe: str  # the half-open probe's token (SET NX with a TTL)

    @property
    def script_keys(self) -> list[str]:
        """KEYS[1..3] of the breaker scripts."""
        return [self.state, self.win, self.probe]


def breaker(model: str) -> BreakerKeys:
    """The keys of `model`'s circuit breaker."""
    base = f"{PREFIX}:breaker:{{{model}}}"
    return BreakerKeys(state=f"{base}:state", win=f"{base}:win", probe=f"{base}:probe")
