"""The kill switch in memory, for unit tests: one value under a lock."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from tasks.flow.killswitch.core import CachedKillSwitch


class MemorySwitchBackend:
    """`SwitchBackend` in memory; share one between switches to share the state."""

    errors: tuple[type[Exception], ...] = ()  # nothing here fails like a network does

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._raw: bytes | None = None

    def get(self) -> bytes | None:
        """The stored value, or None while the switch is off."""
        with self._lock:
            return self._raw

    def put(self, raw: bytes | None) -> None:
        """Store `raw` (on), or remove the value (None: off)."""
        with self._lock:
            self._raw = raw


class MemoryKillSwitch(CachedKillSwitch):
    """KillSwitch in memory, for unit tests: the same reasons, caching and status."""

    def __init__(
        self,
        *,
        backend: MemorySwitchBackend | None = None,
        cache_s: float = 0.5,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(backend or MemorySwitchBackend(), cache_s=cache_s, clock=clock)
