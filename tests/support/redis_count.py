"""Count a Redis client's round trips: every send over any of its connections is one.

`RoundTrips().client(url)` gives a client whose connections note the command name of each
send (a pipeline's send counts once, as it is one round trip; a connection's handshake
counts too, so warm the client up first). Read `.sent` (names, in order) or `.count`, and
`.reset()` between the steps you measure. Background threads using the same client (the
semaphore's heartbeat) count as well: keep their interval longer than the measured step.
"""

from __future__ import annotations

import threading
from typing import Any

import redis


class RoundTrips:
    """The round trips of the clients it made, thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sent: list[str] = []

    def note(self, command: Any) -> None:
        """Note one send: its (first) command's name, from the packed RESP bytes."""
        chunks = [command] if isinstance(command, (bytes, str)) else list(command)
        head = chunks[0].encode() if isinstance(chunks[0], str) else bytes(chunks[0])
        parts = head.split(b"\r\n")
        name = parts[2].decode().upper() if len(parts) > 2 else "?"  # "*n", "$len", NAME
        with self._lock:
            self._sent.append(name)

    @property
    def sent(self) -> list[str]:
        """The command names sent since the last reset, in order."""
        with self._lock:
            return list(self._sent)

    @property
    def count(self) -> int:
        """How many round trips since the last reset."""
        with self._lock:
            return len(self._sent)

    def reset(self) -> None:
        """Start counting afresh."""
        with self._lock:
            self._sent.clear()

    def client(self, url: str) -> redis.Redis:
        """A client on `url` whose every connection reports its sends here."""
        counter = self

        class _CountingConnection(redis.Connection):
            def send_packed_command(self, command: Any, check_health: bool = True) -> None:
                counter.note(command)
                super().send_packed_command(command, check_health)  # type: ignore[no-untyped-call]

        pool = redis.ConnectionPool.from_url(url, connection_class=_CountingConnection)
        return redis.Redis(connection_pool=pool)
