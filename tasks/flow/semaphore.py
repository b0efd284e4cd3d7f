"""Crash-safe distributed counting semaphore on Redis: expiring leases, FIFO waiters, heartbeat.

Hand-rolled on purpose: no well-kept library does leases with fencing numbers, FIFO-fair
waiting without polling storms and one shared heartbeat (redis-py's Lock is a mutex; the PyPI
semaphore packages are unmaintained, spin, or trust the client's clock). All keys of one
semaphore share the hash tag ``{key}`` so the multi-key scripts stay legal on Redis Cluster;
all times come from Redis ``TIME``, because many machines with drifting clocks share a lease set.
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import redis
import structlog

from tasks.errors import SlotTimeout

log = structlog.get_logger(__name__)

# Shared prelude: `now` in ms on Redis's clock; reap expired leases (counted for the metric)
# and dead waiters (so a crashed waiter never blocks the queue for longer than its TTL).
# KEYS: leases, expired, waiters, waiters:ttl, ticket, fences.
_PRELUDE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local gone = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now)
if #gone > 0 then
  redis.call('INCRBY', KEYS[2], redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now))
  redis.call('HDEL', KEYS[6], unpack(gone))
end
for _, w in ipairs(redis.call('ZRANGEBYSCORE', KEYS[4], '-inf', now)) do
  redis.call('ZREM', KEYS[3], w)
  redis.call('ZREM', KEYS[4], w)
end
local function wake(n, prefix, ttl)
  if n <= 0 then return end
  for _, w in ipairs(redis.call('ZRANGE', KEYS[3], 0, n - 1)) do
    local k = prefix .. w
    -- one pending wake-up is enough; more would only cause empty re-checks
    if redis.call('LLEN', k) == 0 then
      redis.call('RPUSH', k, 1)
      redis.call('PEXPIRE', k, ttl)
    end
  end
end
"""

# ARGV: token, cap, lease_ms, waiter_ms, wake_prefix. Returns the fence (> 0) or 0 (wait).
_ACQUIRE = (
    _PRELUDE
    + """
local token, cap = ARGV[1], tonumber(ARGV[2])
local held = redis.call('HGET', KEYS[6], token)
if held and redis.call('ZSCORE', KEYS[1], token) then
  return tonumber(held)  -- a retried call whose first reply was lost: same grant
end
if not redis.call('ZSCORE', KEYS[3], token) then
  redis.call('ZADD', KEYS[3], redis.call('INCR', KEYS[5]), token)
end
redis.call('ZADD', KEYS[4], now + tonumber(ARGV[4]), token)
local free = cap - redis.call('ZCARD', KEYS[1])
if free <= 0 then return 0 end
if redis.call('ZRANK', KEYS[3], token) >= free then
  wake(free, ARGV[5], ARGV[4])  -- the heads own these slots; nudge them if a wake-up was lost
  return 0
end
local fence = redis.call('INCR', KEYS[5])
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), token)
redis.call('HSET', KEYS[6], token, fence)
redis.call('ZREM', KEYS[3], token)
redis.call('ZREM', KEYS[4], token)
redis.call('DEL', ARGV[5] .. token)
wake(free - 1, ARGV[5], ARGV[4])
return fence
"""
)

# ARGV: token, cap, wake_prefix, waiter_ms. Also withdraws a waiter. Returns 1 if it was held.
_RELEASE = (
    _PRELUDE
    + """
local token = ARGV[1]
local held = redis.call('ZREM', KEYS[1], token)
redis.call('HDEL', KEYS[6], token)
redis.call('ZREM', KEYS[3], token)
redis.call('ZREM', KEYS[4], token)
redis.call('DEL', ARGV[3] .. token)
wake(tonumber(ARGV[2]) - redis.call('ZCARD', KEYS[1]), ARGV[3], ARGV[4])
return held
"""
)

# ARGV: lease_ms, token... Extends live leases only; returns the tokens that were lost.
_RENEW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local lost = {}
for i = 2, #ARGV do
  local score = redis.call('ZSCORE', KEYS[1], ARGV[i])
  if score and tonumber(score) > now then
    redis.call('ZADD', KEYS[1], 'XX', now + tonumber(ARGV[1]), ARGV[i])
  else
    if score then  -- expired but not yet reaped: reap it here, never resurrect it
      redis.call('ZREM', KEYS[1], ARGV[i])
      redis.call('INCR', KEYS[2])
    end
    redis.call('HDEL', KEYS[6], ARGV[i])
    lost[#lost + 1] = ARGV[i]
  end
end
return lost
"""

_IN_USE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
return redis.call('ZCOUNT', KEYS[1], '(' .. now, '+inf')
"""


@dataclass(eq=False)
class Lease:
    """One held slot: `fence` grows with every grant; `lost` is set if the lease expired."""

    key: str
    token: str
    fence: int
    lost: threading.Event = field(default_factory=threading.Event)


@dataclass(eq=False)
class _Group:
    leases: dict[str, Lease]
    due: float


class _Heartbeat:
    """The one renewal thread of this process, shared by every lease of every limiter."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._groups: dict[tuple[RedisSlotLimiter, str], _Group] = {}
        self._thread: threading.Thread | None = None

    def add(self, limiter: RedisSlotLimiter, lease: Lease) -> None:
        """Renew `lease` every `limiter.heartbeat_s` until discarded."""
        with self._cond:
            due = time.monotonic() + limiter.heartbeat_s
            group = self._groups.setdefault((limiter, lease.key), _Group({}, due))
            group.leases[lease.token] = lease
            if self._thread is None:  # started lazily; it exits again when nothing is held
                self._thread = threading.Thread(
                    target=self._run, name="dq-semaphore-heartbeat", daemon=True
                )
                self._thread.start()
            self._cond.notify()

    def discard(self, limiter: RedisSlotLimiter, lease: Lease) -> bool:
        """Stop renewing `lease`; False if it was not registered (already reported lost)."""
        with self._cond:
            group = self._groups.get((limiter, lease.key))
            if group is None or group.leases.pop(lease.token, None) is None:
                return False
            if not group.leases:
                del self._groups[(limiter, lease.key)]
            return True

    def _run(self) -> None:
        while True:
            with self._cond:
                while True:
                    if not self._groups:
                        self._thread = None
                        return
                    now = time.monotonic()
                    due = {gk: dict(g.leases) for gk, g in self._groups.items() if g.due <= now}
                    if due:
                        break
                    self._cond.wait(min(g.due for g in self._groups.values()) - now)
                for gk in due:  # a whole key per beat: one round trip per key, not per lease
                    self._groups[gk].due = now + gk[0].heartbeat_s
            for (limiter, key), leases in due.items():
                try:
                    lost = limiter.renew(key=key, tokens=list(leases))
                except Exception:  # a missed beat is retried at the next interval
                    log.warning("slot_renew_failed", key=key, exc_info=True)
                    continue
                for token in lost:
                    # a lease released while this beat was in flight is not "lost"
                    if self.discard(limiter, leases[token]):
                        leases[token].lost.set()
                        log.warning("slot_lease_lost", key=key, fence=leases[token].fence)


_HEARTBEAT = _Heartbeat()


def _reset_after_fork() -> None:
    # a forked child has no heartbeat thread and owns none of its parent's leases
    global _HEARTBEAT  # noqa: PLW0603
    _HEARTBEAT = _Heartbeat()


os.register_at_fork(after_in_child=_reset_after_fork)


class RedisSlotLimiter:
    """SlotLimiter on Redis: at most `cap` leases per key, granted in arrival order."""

    def __init__(
        self,
        client: redis.Redis,
        *,
        lease_ttl_s: float,
        heartbeat_s: float,
        acquire_timeout_s: float,
        poll_s: float = 0.25,
        waiter_ttl_s: float = 2.0,
    ) -> None:
        if not 0 < heartbeat_s < lease_ttl_s:
            raise ValueError("need 0 < heartbeat_s < lease_ttl_s, or leases expire while held")
        if not 0 < poll_s < waiter_ttl_s:
            raise ValueError("need 0 < poll_s < waiter_ttl_s, or live waiters get purged")
        self._client = client
        self.heartbeat_s = heartbeat_s
        self._lease_ms = int(lease_ttl_s * 1000)
        self._waiter_ms = int(waiter_ttl_s * 1000)
        self._timeout_s = acquire_timeout_s
        self._poll_s = poll_s
        self._acquire = client.register_script(_ACQUIRE)
        self._release = client.register_script(_RELEASE)
        self._renew = client.register_script(_RENEW)
        self._in_use = client.register_script(_IN_USE)

    @staticmethod
    def _keys(key: str) -> tuple[list[str], str]:
        base = f"dq:sem:{{{key}}}"
        names = ("leases", "expired", "waiters", "waiters:ttl", "ticket", "fences")
        return [f"{base}:{n}" for n in names], f"{base}:wake:"

    @contextmanager
    def slot(self, *, key: str, cap: int) -> Iterator[None]:
        """Hold one of `cap` slots for `key` while the block runs; raise SlotTimeout."""
        with self.hold(key=key, cap=cap):
            yield

    @contextmanager
    def hold(self, *, key: str, cap: int) -> Iterator[Lease]:
        """Like `slot`, but yield the Lease (its fence number and `lost` flag)."""
        lease = self.acquire(key=key, cap=cap)
        _HEARTBEAT.add(self, lease)
        try:
            yield lease
        finally:
            self.release(lease, cap=cap)

    def acquire(self, *, key: str, cap: int) -> Lease:
        """Wait in line for a slot, up to `acquire_timeout_s`; the caller must `release` it."""
        if cap < 1:
            raise ValueError(f"cap must be >= 1, got {cap}")
        token = uuid.uuid4().hex
        try:
            fence = self._wait_for_grant(key=key, cap=cap, token=token)
        except BaseException:
            self._withdraw(key=key, cap=cap, token=token)
            raise
        if fence is None:
            self._withdraw(key=key, cap=cap, token=token)
            raise SlotTimeout(f"no slot for {key!r} (cap {cap}) within {self._timeout_s}s")
        return Lease(key=key, token=token, fence=fence)

    def _wait_for_grant(self, *, key: str, cap: int, token: str) -> int | None:
        keys, prefix = self._keys(key)
        args: list[str | int] = [token, cap, self._lease_ms, self._waiter_ms, prefix]
        deadline = time.monotonic() + self._timeout_s
        while True:
            fence = int(self._acquire(keys=keys, args=args))
            if fence > 0:
                return fence
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            # Blocks until a release wakes us; the short timeout bounds the damage of a
            # wake-up lost with a crashed releaser or a lease that simply expired.
            self._client.blpop([prefix + token], timeout=max(0.01, min(self._poll_s, remaining)))

    def _withdraw(self, *, key: str, cap: int, token: str) -> None:
        # leave the line at once (and drop a grant whose reply we lost) so nobody waits on us
        try:
            self._run_release(key=key, cap=cap, token=token)
        except redis.RedisError:
            log.warning("slot_withdraw_failed", key=key, exc_info=True)

    def release(self, lease: Lease, *, cap: int) -> None:
        """Give the slot back and wake the next waiter; never raises on Redis errors."""
        registered = _HEARTBEAT.discard(self, lease)
        try:
            held = self._run_release(key=lease.key, cap=cap, token=lease.token)
        except redis.RedisError:
            # the lease runs out on its own within the TTL; do not mask the caller's outcome
            log.warning("slot_release_failed", key=lease.key, exc_info=True)
            return
        if not held and registered:
            lease.lost.set()
            log.warning("slot_lease_lost", key=lease.key, fence=lease.fence)

    def _run_release(self, *, key: str, cap: int, token: str) -> bool:
        keys, prefix = self._keys(key)
        return bool(self._release(keys=keys, args=[token, cap, prefix, self._waiter_ms]))

    def renew(self, *, key: str, tokens: list[str]) -> list[str]:
        """Extend the given leases of `key` by the TTL; return the tokens already lost."""
        lost = self._renew(keys=self._keys(key)[0], args=[self._lease_ms, *tokens])
        return [t.decode() if isinstance(t, bytes) else t for t in lost]

    def in_use(self, key: str) -> int:
        """Number of live (unexpired) leases on `key`."""
        return int(self._in_use(keys=self._keys(key)[0][:1]))

    def expired_total(self, key: str) -> int:
        """How many leases on `key` ever expired unreleased (their holder died or stalled)."""
        raw = self._client.get(self._keys(key)[0][1])
        return int(raw) if raw is not None else 0
