"""The call gate on Redis: each way is one Lua script, built from the mechanisms' own files.

`gate_enter` is the breaker's `breaker_allow`, the bucket's `bucket_refill` + `bucket_take`
and the semaphore's `semaphore_reap` + `semaphore_acquire`, each wrapped as a local function
(`tasks.flow.lua.function`), called in that order with early exits; `gate_leave` likewise
chains `semaphore_release`, `bucket_correct` and `breaker_record`. No second copy of their
logic: a fix to one of those files reaches the gate too.

Redis Cluster: one script touches the semaphore's, the bucket's and the breaker's keys of one
model, and all of them carry the model's hash tag (`dq:sem:{m}:...`, `dq:tpm:{m}`,
`dq:breaker:{m}:...`, see tasks/flow/keys.py), so each script's keys share one slot.
"""

from __future__ import annotations

from typing import Any

import redis

from schemas.config import BreakerConfig
from tasks.flow import keys
from tasks.flow.connection import run_replicated
from tasks.flow.gate.core import Entry, Exit, Stage
from tasks.flow.lua import composed, function

_ENTER = composed(
    "gate_enter",
    function("breaker_allow", "breaker_allow"),
    function("bucket_take", "bucket_refill", "bucket_take"),
    function("semaphore_acquire", "semaphore_reap", "semaphore_acquire"),
)
_LEAVE = composed(
    "gate_leave",
    function("semaphore_release", "semaphore_reap", "semaphore_release"),
    function("bucket_correct", "bucket_refill", "bucket_correct"),
    function("breaker_record", "breaker_record"),
)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class RedisGateBackend:
    """`GateBackend` on Redis: one script per way, timed by Redis's clock."""

    errors: tuple[type[Exception], ...] = (redis.RedisError,)

    def __init__(self, client: redis.Redis, *, replicas: int = 0) -> None:
        self._client = client
        self._replicas = replicas  # Sentinel: a grant waits for a replica (flow/connection.py)
        self._enter = client.register_script(_ENTER)
        self._leave = client.register_script(_LEAVE)

    def enter(
        self,
        *,
        model: str,
        probe_token: str,
        cooldown_s: float,
        probe_ttl_ms: int,
        tokens: int,
        per_minute: int,
        slot_token: str,
        cap: int,
        lease_ms: int,
        waiter_ms: int,
    ) -> Entry:
        """Breaker allow, then bucket take (if `tokens` > 0), then join the line and grant."""
        sem = keys.semaphore(model)
        script_keys = [*keys.breaker(model).script_keys, keys.bucket(model), *sem.script_keys]
        args: list[str | int | float] = [
            *(cooldown_s, probe_ttl_ms, probe_token),
            *(per_minute, tokens),
            *(slot_token, cap, lease_ms, waiter_ms, sem.wake_prefix),
        ]
        entered = run_replicated(
            self._enter, self._client, keys=script_keys, args=args, replicas=self._replicas
        )
        stage, probe, n = (int(v) for v in entered)
        return Entry(
            stage=Stage(stage),
            probe=probe == 1,
            wait_ms=n if stage == Stage.BUCKET else 0,
            fence=n if stage == Stage.GRANTED else 0,
        )

    def leave(
        self,
        *,
        model: str,
        slot_token: str,
        cap: int,
        waiter_ms: int,
        per_minute: int,
        delta: int,
        ok: bool | None,
        probe_token: str,
        config: BreakerConfig,
    ) -> Exit:
        """Release the slot, add `delta` tokens (if not 0), record `ok` (if not None)."""
        sem = keys.semaphore(model)
        script_keys = [*sem.script_keys, keys.bucket(model), *keys.breaker(model).script_keys]
        args: list[str | int | float] = [
            *(slot_token, cap, sem.wake_prefix, waiter_ms),
            *(per_minute, delta),
            "" if ok is None else int(ok),
            probe_token,
            *(config.failure_threshold, config.error_rate, config.window_s),
            *(config.min_calls, config.cooldown_s),
        ]
        held, state = self._leave(keys=script_keys, args=args)
        return Exit(held=int(held) == 1, state=_text(state))
