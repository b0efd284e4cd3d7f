"""Per-model circuit breaker whose whole state lives in Redis, so every worker shares it.

Keys per model (one hash tag, so a cluster keeps them on one slot):
  dq:breaker:{model}:state  hash: state (closed|open), opened_at, consec, opened_total
  dq:breaker:{model}:win    hash: per-second buckets "c:<sec>" (calls), "f:<sec>" (failures)
  dq:breaker:{model}:probe  the half-open probe's token (SET NX with a TTL)

Half-open is not stored: it is "open and the cool-down (Redis TIME) has passed". Only the
caller that claimed the probe moves the breaker out of it; results of other calls that land
while the breaker is open are ignored (they began before it opened).
"""

from __future__ import annotations

import threading
import uuid
from typing import Any

import redis

from schemas.config import BreakerConfig

PREFIX = "dq:breaker"

# Shared Lua prelude: KEYS = state, win, probe; returns now as seconds (float).
_NOW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
"""

# ARGV: cooldown_s, probe_ttl_ms, token. Returns 1 if the call may go out, else 0.
_ALLOW = (
    _NOW
    + """
local state = redis.call('HGET', KEYS[1], 'state')
if state ~= 'open' then return 1 end
local opened_at = tonumber(redis.call('HGET', KEYS[1], 'opened_at') or '0')
if now < opened_at + tonumber(ARGV[1]) then return 0 end
if redis.call('SET', KEYS[3], ARGV[3], 'NX', 'PX', ARGV[2]) then return 1 end
return 0
"""
)

# ARGV: ok (1|0), token ('' if none), failure_threshold, error_rate, window_s, min_calls,
# cooldown_s. Returns the state after the call: 'closed' or 'open'.
_RECORD = (
    _NOW
    + """
local ok = ARGV[1] == '1'
local state = redis.call('HGET', KEYS[1], 'state')
local function trip()
  redis.call('HSET', KEYS[1], 'state', 'open', 'opened_at', tostring(now), 'consec', 0)
  redis.call('HINCRBY', KEYS[1], 'opened_total', 1)
  redis.call('DEL', KEYS[2], KEYS[3])
  return 'open'
end
if state == 'open' then
  local opened_at = tonumber(redis.call('HGET', KEYS[1], 'opened_at') or '0')
  local probe = redis.call('GET', KEYS[3])
  local is_probe = ARGV[2] ~= '' and probe == ARGV[2]
  if not is_probe or now < opened_at + tonumber(ARGV[7]) then return 'open' end
  if not ok then return trip() end
  redis.call('HSET', KEYS[1], 'state', 'closed', 'consec', 0)
  redis.call('DEL', KEYS[2], KEYS[3])
  return 'closed'
end
local window = tonumber(ARGV[5])
local sec = math.floor(now)
redis.call('HINCRBY', KEYS[2], 'c:' .. sec, 1)
local consec = 0
if ok then
  redis.call('HSET', KEYS[1], 'consec', 0)
else
  redis.call('HINCRBY', KEYS[2], 'f:' .. sec, 1)
  consec = redis.call('HINCRBY', KEYS[1], 'consec', 1)
end
redis.call('PEXPIRE', KEYS[2], (window + 1) * 1000)
local calls, fails = 0, 0
local buckets = redis.call('HGETALL', KEYS[2])
for i = 1, #buckets, 2 do
  local field = buckets[i]
  local at = tonumber(string.sub(field, 3))
  if at <= sec - window then
    redis.call('HDEL', KEYS[2], field)
  elseif string.sub(field, 1, 1) == 'c' then
    calls = calls + tonumber(buckets[i + 1])
  else
    fails = fails + tonumber(buckets[i + 1])
  end
end
if consec >= tonumber(ARGV[3]) then return trip() end
if calls >= tonumber(ARGV[6]) and fails / calls >= tonumber(ARGV[4]) then return trip() end
return 'closed'
"""
)

# ARGV: cooldown_s. Returns 'closed', 'open' or 'half_open'.
_STATE = (
    _NOW
    + """
if redis.call('HGET', KEYS[1], 'state') ~= 'open' then return 'closed' end
local opened_at = tonumber(redis.call('HGET', KEYS[1], 'opened_at') or '0')
if now < opened_at + tonumber(ARGV[1]) then return 'open' end
return 'half_open'
"""
)


def _keys(model: str) -> list[str]:
    base = f"{PREFIX}:{{{model}}}"
    return [f"{base}:state", f"{base}:win", f"{base}:probe"]


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class RedisCircuitBreaker:
    """`tasks.engine.ports.CircuitBreaker` with every transition done atomically in Lua."""

    def __init__(
        self, client: redis.Redis, config: BreakerConfig, *, probe_ttl_s: float = 60.0
    ) -> None:
        self._client = client
        self._config = config
        self._probe_ttl_ms = max(1, int(probe_ttl_s * 1000))
        self._allow = client.register_script(_ALLOW)
        self._record = client.register_script(_RECORD)
        self._state = client.register_script(_STATE)
        # The probe token this thread claimed, per model (Celery's threads pool: a task
        # calls allow() and record() on the same thread).
        self._local = threading.local()

    def _tokens(self) -> dict[str, str]:
        tokens: dict[str, str] | None = getattr(self._local, "tokens", None)
        if tokens is None:
            tokens = self._local.tokens = {}
        return tokens

    def allow(self, *, model: str) -> bool:
        """Whether a call to `model` may go out now (closed, or the half-open probe)."""
        token = uuid.uuid4().hex
        allowed = bool(
            self._allow(
                keys=_keys(model),
                args=[self._config.cooldown_s, self._probe_ttl_ms, token],
            )
        )
        tokens = self._tokens()
        if allowed:
            tokens[model] = token
        else:
            tokens.pop(model, None)
        return allowed

    def record(self, *, model: str, ok: bool) -> None:
        """Feed back one call's health (and settle the probe if this thread holds it)."""
        cfg = self._config
        token = self._tokens().pop(model, "")
        self._record(
            keys=_keys(model),
            args=[
                1 if ok else 0,
                token,
                cfg.failure_threshold,
                cfg.error_rate,
                cfg.window_s,
                cfg.min_calls,
                cfg.cooldown_s,
            ],
        )

    def state(self, model: str) -> str:
        """'closed', 'open' or 'half_open', as of Redis's clock."""
        return _text(self._state(keys=_keys(model), args=[self._config.cooldown_s]))

    def opened_total(self, model: str) -> int:
        """How many times the breaker for `model` has opened (probe failures included)."""
        value = self._client.hget(_keys(model)[0], "opened_total")
        return int(_text(value)) if value is not None else 0

    def reset(self, model: str) -> None:
        """Force the breaker closed and clear its window (operator action; keeps the total)."""
        state, win, probe = _keys(model)
        pipe = self._client.pipeline()
        pipe.hset(state, mapping={"state": "closed", "consec": 0})
        pipe.delete(win, probe)
        pipe.execute()
