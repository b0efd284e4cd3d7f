"""The global stop for new provider calls: one stored value, read at most every `cache_s`."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

from tasks.errors import Paused


class SwitchBackend(Protocol):
    """Where the switch is stored: a value present means on."""

    # read failures that pause instead of failing open
    errors: tuple[type[Exception], ...]

    def get(self) -> bytes | None:
        """The stored value, or None while the switch is off."""
        ...

    def put(self, raw: bytes | None) -> None:
        """Store `raw` (on), or remove the value (None: off)."""
        ...


class CachedKillSwitch:
    """`tasks.engine.ports.KillSwitch` over a backend, with reads cached for `cache_s`."""

    def __init__(
        self,
        backend: SwitchBackend,
        *,
        cache_s: float = 0.5,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._backend = backend
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
        value = self._backend.get()
        with self._lock:
            self._raw, self._read_at = value, now
        return value

    def check(self) -> None:
        """Raise Paused while the switch is on (or its state cannot be read: fail closed)."""
        try:
            raw = self._current()
        except self._backend.errors as exc:
            raise Paused(f"kill switch state unavailable: {exc}") from exc
        if raw is not None:
            reason = _decode(raw).get("reason") or "no reason given"
            raise Paused(f"kill switch is on: {reason}")

    def set(self, on: bool, *, reason: str = "") -> None:
        """Turn the switch on (with a reason) or off, for every worker."""
        raw = json.dumps({"reason": reason, "since": time.time()}).encode() if on else None
        self._backend.put(raw)
        with self._lock:
            self._raw, self._read_at = raw, self._clock()

    def status(self) -> dict[str, Any]:
        """{'on': bool, 'reason': str, 'since': epoch seconds or None}, read fresh."""
        raw = self._backend.get()
        if raw is None:
            return {"on": False, "reason": "", "since": None}
        data = _decode(raw)
        return {"on": True, "reason": str(data.get("reason", "")), "since": data.get("since")}


def _decode(raw: bytes) -> dict[str, Any]:
    """The stored JSON, or the raw text as the reason if someone set it by hand."""
    try:
        data = json.loads(raw)
    except ValueError:
        return {"reason": raw.decode(errors="replace"), "since": None}
    return data if isinstance(data, dict) else {"reason": str(data), "since": None}
