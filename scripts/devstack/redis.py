"""A throwaway, non-persistent Redis in a user-space directory, on 127.0.0.1 only."""

from __future__ import annotations

import shutil
import socket
import time
from dataclasses import dataclass
from pathlib import Path

from scripts.devstack.procs import (
    ServiceError,
    pid_alive,
    read_pid,
    run_captured,
    stop_pid,
    tail,
)


def redis_command(port: int, *args: str, timeout: float = 2.0) -> str:
    """Send one command to Redis on 127.0.0.1:`port` and return its reply as text."""
    payload = f"*{len(args)}\r\n".encode()
    for arg in args:
        raw = arg.encode()
        payload += b"$%d\r\n%s\r\n" % (len(raw), raw)
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(payload)
        buf = b""
        while b"\r\n" not in buf:
            chunk = sock.recv(65536)
            if not chunk:
                raise ConnectionError("Redis closed the connection")
            buf += chunk
        head, _, rest = buf.partition(b"\r\n")
        kind, body = head[:1], head[1:].decode(errors="replace")
        if kind == b"-":
            raise ConnectionError(f"Redis error: {body}")
        if kind != b"$":
            return body
        size = int(body)
        if size < 0:
            return ""
        while len(rest) < size + 2:
            chunk = sock.recv(65536)
            if not chunk:
                raise ConnectionError("Redis closed the connection")
            rest += chunk
        return rest[:size].decode(errors="replace")


def is_redis_process(pid: int) -> bool:
    """Return True when `pid` is alive and is a redis-server process."""
    if not pid_alive(pid):
        return False
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return True
    return b"redis-server" in cmdline or b"redis" in cmdline.split(b"\0")[0]


@dataclass(kw_only=True)
class RedisServer:
    """A private, non-persistent Redis in `data_dir`, listening on 127.0.0.1:`port`."""

    data_dir: Path
    port: int
    extra_args: tuple[str, ...] = ()  # e.g. ("--replicaof", "127.0.0.1", "6379")

    @property
    def url(self) -> str:
        """Redis URL of database 0."""
        return self.database_url(0)

    def database_url(self, number: int) -> str:
        """Redis URL of database `number` (the server has 64)."""
        return f"redis://127.0.0.1:{self.port}/{number}"

    @property
    def pidfile(self) -> Path:
        """The server's pid file."""
        return Path(self.data_dir).absolute() / "redis.pid"

    @property
    def log_path(self) -> Path:
        """The server's log file."""
        return Path(self.data_dir).absolute() / "redis.log"

    def _pid(self) -> int | None:
        """Return the pid of our live redis-server, or None."""
        pid = read_pid(self.pidfile)
        if pid is None or not is_redis_process(pid):
            return None
        return pid

    def is_running(self) -> bool:
        """Return True when our redis-server is alive and answers PING on `port`."""
        pid = self._pid()
        if pid is None:
            return False
        try:
            return redis_command(self.port, "PING") == "PONG"
        except OSError:
            return False

    def start(self, *, timeout: float = 30.0) -> None:
        """Start redis-server daemonized (no-op when already running) and wait for PING."""
        if self.is_running():
            return
        if self._pid() is not None:
            self.stop()
        binary = shutil.which("redis-server")
        if binary is None:
            raise ServiceError(
                "redis-server is not installed; run `make redis` "
                "(or call scripts.devstack.install.ensure_redis_installed())"
            )
        data = Path(self.data_dir).absolute()
        data.mkdir(parents=True, exist_ok=True)
        self.pidfile.unlink(missing_ok=True)
        log_offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        proc = run_captured(
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(data),
                "--daemonize",
                "yes",
                "--pidfile",
                str(self.pidfile),
                "--logfile",
                str(self.log_path),
                "--save",
                "",
                "--databases",
                "64",
                "--appendonly",
                "no",
                *self.extra_args,
            ],
            timeout=timeout,
        )
        if proc.returncode != 0:
            raise ServiceError(
                f"redis-server failed to start on 127.0.0.1:{self.port}: "
                f"{proc.stdout}{proc.stderr}\n--- tail of {self.log_path} ---\n"
                f"{tail(self.log_path)}"
            )
        self._wait_ready(timeout=timeout, log_offset=log_offset)

    def _new_log_text(self, offset: int) -> str:
        """Return what the server logged after byte `offset` of its log file."""
        try:
            with self.log_path.open("rb") as fh:
                fh.seek(offset)
                return fh.read().decode(errors="replace")
        except OSError:
            return ""

    def _wait_ready(self, *, timeout: float, log_offset: int) -> None:
        """Wait until our own process (per the pid file) answers PING on `port`."""
        deadline = time.monotonic() + timeout
        last = "no pid file yet"
        while True:
            pid = self._pid()
            if pid is None and "aborting" in self._new_log_text(log_offset):
                time.sleep(0.05)  # let the log finish
                raise ServiceError(
                    f"redis-server aborted while starting on 127.0.0.1:{self.port}:\n"
                    f"--- tail of {self.log_path} ---\n{tail(self.log_path)}"
                )
            if pid is not None:
                try:
                    info = redis_command(self.port, "INFO", "server")
                    if f"process_id:{pid}" in info:
                        if redis_command(self.port, "PING") == "PONG":
                            return
                        last = "PING did not answer PONG"
                    else:
                        last = f"another process answers on port {self.port}"
                except OSError as exc:
                    last = str(exc)
            if time.monotonic() > deadline:
                raise ServiceError(
                    f"Redis on 127.0.0.1:{self.port} not ready after {timeout:.0f}s ({last})\n"
                    f"--- tail of {self.log_path} ---\n{tail(self.log_path)}"
                )
            time.sleep(0.05)

    def stop(self, *, timeout: float = 15.0) -> None:
        """Stop our redis-server with SIGTERM (SIGKILL after `timeout`); no-op if stopped."""
        pid = self._pid()
        if pid is None:
            self.pidfile.unlink(missing_ok=True)
            return
        stop_pid(pid, timeout=timeout)
        self.pidfile.unlink(missing_ok=True)

    def restart(self, *, timeout: float = 30.0) -> None:
        """Stop the server if running, then start it again (Redis keeps no data)."""
        self.stop()
        self.start(timeout=timeout)

    def flushall(self) -> None:
        """Delete every key in every database."""
        reply = redis_command(self.port, "FLUSHALL")
        if reply != "OK":
            raise ServiceError(f"FLUSHALL answered {reply!r}")
