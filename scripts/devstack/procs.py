"""Process plumbing shared by the dev servers: pid files, log tails, quiet subprocesses."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

LOG_TAIL_LINES = 40


class ServiceError(RuntimeError):
    """A server could not be installed, started or stopped."""


def tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    """Return the last `lines` lines of a text file, or a note that it is missing."""
    try:
        text = path.read_text(errors="replace")
    except OSError as exc:
        return f"(no log at {path}: {exc.strerror})"
    return "\n".join(text.splitlines()[-lines:]) or "(log is empty)"


def clean_env() -> dict[str, str]:
    """Return the environment without libpq variables that could redirect the tools."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env["PGCONNECT_TIMEOUT"] = "5"
    return env


def run_captured(
    args: list[str],
    *,
    env: dict[str, str] | None = None,
    input_text: str | None = None,
    timeout: float | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run `args` with captured text output, no check and no terminal stdin."""
    return subprocess.run(
        args,
        input=input_text,
        capture_output=True,
        text=True,
        check=False,
        # `input` brings its own pipe; otherwise stdin must not be our terminal
        stdin=subprocess.DEVNULL if input_text is None else None,
        env=env,
        timeout=timeout,
    )


def run_quiet(
    args: list[str], *, input_text: str | None = None
) -> subprocess.CompletedProcess[str]:
    """Run a libpq client tool with the clean environment (see `run_captured`)."""
    return run_captured(args, env=clean_env(), input_text=input_text)


def pid_alive(pid: int) -> bool:
    """Return True when a process with `pid` exists (zombies count as gone)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        status = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return status.rsplit(")", 1)[-1].split()[0] != "Z"


def read_pid(path: Path) -> int | None:
    """Return the pid on the first line of a pid file, or None."""
    try:
        first = path.read_text().splitlines()[0].strip()
        return int(first)
    except (OSError, IndexError, ValueError):
        return None


def stop_popen(proc: subprocess.Popen[bytes] | None, *, timeout: float = 10.0) -> None:
    """Stop a child process: SIGTERM, then SIGKILL if it is still running after `timeout`."""
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


def stop_pid(pid: int | None, *, timeout: float = 10.0) -> None:
    """Stop a daemon by pid (not our child): SIGTERM, then SIGKILL after `timeout`."""
    if pid is None or not pid_alive(pid):
        return
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while pid_alive(pid):
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            deadline = time.monotonic() + 5
        time.sleep(0.05)
