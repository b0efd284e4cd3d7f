"""A webhook receiver that accepts every connection and never answers (a stuck endpoint)."""

from __future__ import annotations

import contextlib
import socket
import threading


class HangingReceiver:
    """Accepts TCP connections, reads whatever comes, never writes a byte back.

    Counts the connections open at once (`peak`): each stays open until the client gives up.
    """

    def __init__(self) -> None:
        self._server = socket.create_server(("127.0.0.1", 0), backlog=128)
        self._lock = threading.Lock()
        self.open = 0
        self.peak = 0
        self.accepted = 0
        self._closing = threading.Event()
        threading.Thread(target=self._accept, daemon=True, name="hanging-accept").start()

    @property
    def url(self) -> str:
        """Base URL of the receiver."""
        return f"http://127.0.0.1:{self._server.getsockname()[1]}"

    def _accept(self) -> None:
        while not self._closing.is_set():
            try:
                conn, _ = self._server.accept()
            except OSError:
                return
            with self._lock:
                self.accepted += 1
                self.open += 1
                self.peak = max(self.peak, self.open)
            threading.Thread(target=self._hold, args=(conn,), daemon=True).start()

    def _hold(self, conn: socket.socket) -> None:
        with contextlib.suppress(OSError), conn:
            while conn.recv(65536):  # until the client hangs up: never answer
                pass
        with self._lock:
            self.open -= 1

    def close(self) -> None:
        """Stop accepting (connections still open are dropped by the clients' timeouts)."""
        self._closing.set()
        self._server.close()
