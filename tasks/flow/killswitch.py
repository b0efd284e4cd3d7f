"""The global stop for new provider calls: one Redis key, read at most every `cache_s`."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import Any

import redis

from tasks.errors import Paused

KEY = "dq:killswitch"


class RedisKillSwitch:
    """`tasks.engine.ports.KillSwitch` backed by the `dq:killswitch` key (set = on)."""

    def __init__(
        self,
        client: redis.Redis,
        *,
        cache_s: float = 0.5,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._cache_s = cache_s
        self._clock = clock
        self._lock = threading.Lock()
        self._read_at = float("-inf")
        self._raw: bytes | None = None

    def _current(self) -> bytes | None:
        now = self._clock()
        with self._lock:
            if now - self._read_at < self._cache_s:
                return self._raw
        raw = self._client.get(KEY)
        value = raw if isinstance(raw, bytes) or raw is None else str(raw).encode()
        with self._lock:
            self._raw, self._read_at = value, now
        return value

    def check(self) -> None:
        """Raise Paused while the switch is on (or its state cannot be read: fail closed)."""
        try:
            raw = self._current()
        except redis.RedisError as exc:
            raise Paused(f"kill switch state unavailable: {exc}") from exc
        if raw is not None:
            reason = _decode(raw).get("reason") or "no reason given"
            raise Paused(f"kill switch is on: {reason}")

    def set(self, on: bool, *, reason: str = "") -> None:
        """Turn the switch on (with a reason) or off, for every worker."""
        if on:
            raw = json.dumps({"reason": reason, "since": time.time()}).encode()
            self._client.set(KEY, raw)
        else:
            raw = None
            self._client.delete(KEY)
        with self._lock:
            self._raw, self._read_at = raw, self._clock()

    def status(self) -> dict[str, Any]:
        """{'on': bool, 'reason': str, 'since': epoch seconds or None}, read fresh."""
        raw = self._client.get(KEY)
        if raw is None:
            return {"on": False, "reason": "", "since": None}
        data = _decode(raw if isinstance(raw, bytes) else str(raw).encode())
        return {"on": True, "reason": str(data.get("reason", "")), "since": data.get("since")}


def _decode(raw: bytes) -> dict[str, Any]:
    """The stored JSON, or the raw text as the reason if someone set it by hand."""
    try:
        data = json.loads(raw)
    except ValueError:
        return {"reason": raw.decode(errors="replace"), "since": None}
    return data if isinstance(data, dict) else {"reason": str(data), "since": None}
