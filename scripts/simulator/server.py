"""Run the simulator with uvicorn: in the foreground (CLI) or in a background thread (tests)."""

from __future__ import annotations

import socket
import threading
import time
from types import TracebackType

import uvicorn

from scripts.simulator.app import create_app
from scripts.simulator.state import SimState

STARTUP_TIMEOUT_S = 10.0


def uvicorn_config(
    state: SimState | None, host: str = "127.0.0.1", port: int = 0
) -> uvicorn.Config:
    """Uvicorn settings for the simulator: quiet logs, no access log, lifespan on."""
    return uvicorn.Config(
        create_app(state),
        host=host,
        port=port,
        log_level="warning",
        access_log=False,
        lifespan="on",
        # Clients keep connections open between calls; let them, as the real APIs do.
        timeout_keep_alive=30,
        # A hung request whose client never leaves must not block shutdown for long.
        timeout_graceful_shutdown=5,
    )


class BackgroundSimulator:
    """The simulator on a free loopback port in a daemon thread; use as a context manager."""

    def __init__(self, state: SimState | None = None, host: str = "127.0.0.1") -> None:
        self.host = host
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        # Binding here (port 0) gives a free port with no window for another process to take it.
        self.sock.bind((host, 0))
        self.port: int = self.sock.getsockname()[1]
        self.server = uvicorn.Server(uvicorn_config(state, host, self.port))
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True
        )

    @property
    def base_url(self) -> str:
        """http://host:port, the value for ANTHROPIC_BASE_URL."""
        return f"http://{self.host}:{self.port}"

    @property
    def openai_base_url(self) -> str:
        """http://host:port/v1, the value for OPENAI_BASE_URL."""
        return f"{self.base_url}/v1"

    def start(self) -> BackgroundSimulator:
        """Start serving and wait until uvicorn reports it is up."""
        self.thread.start()
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the simulator did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        """Ask uvicorn to exit and wait for the thread."""
        self.server.should_exit = True
        self.thread.join(timeout=STARTUP_TIMEOUT_S)
        self.sock.close()

    def __enter__(self) -> BackgroundSimulator:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
