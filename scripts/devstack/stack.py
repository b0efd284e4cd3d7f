"""Start and stop docqueue's processes (simulator, API, workers, scheduler, Flower).

Shared by `make demo`, the end-to-end tests and the benchmark, so all three run the
same commands the Procfile names.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

PY = sys.executable


@dataclass
class Stack:
    """A set of named child processes sharing one environment."""

    run_dir: Path
    env: dict[str, str]
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def _spawn(
        self, name: str, args: list[str], env: dict[str, str] | None = None
    ) -> subprocess.Popen[bytes]:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        log = (self.run_dir / f"{name}.log").open("ab")
        env = {**os.environ, **self.env, **(env or {}), "PYTHONUNBUFFERED": "1"}
        proc = subprocess.Popen(
            args, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        self.procs[name] = proc
        return proc

    def simulator(self, *, port: int, latency_ms: int = 0, wait: bool = True) -> str:
        """Start the provider simulator; returns its base URL (`wait`: once it answers)."""
        self._spawn(
            "simulator",
            [PY, "-m", "scripts.simulator", "--port", str(port), "--latency-ms", str(latency_ms)],
        )
        url = f"http://127.0.0.1:{port}"
        if wait:
            self.wait_ready("simulator", url)
        return url

    def wait_ready(self, name: str, url: str) -> None:
        """Wait until the simulator or the API started at `url` answers its health check."""
        path = "/sim/stats" if name == "simulator" else "/health"
        wait_http(f"{url}{path}", proc=self.procs[name])

    def api(self, *, port: int, workers: int = 1, wait: bool = True) -> str:
        """Start the API (`workers` uvicorn processes); returns its base URL (`wait`: ready)."""
        self._spawn(
            "api",
            [
                PY,
                "-m",
                "uvicorn",
                "api.main:app",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--log-level",
                "warning",
                "--no-access-log",
                *(["--workers", str(workers)] if workers > 1 else []),
            ],
        )
        url = f"http://127.0.0.1:{port}"
        if wait:
            self.wait_ready("api", url)
        return url

    def worker(self, *, name: str, tiers: str = "low,medium,high", concurrency: int = 16) -> None:
        """Start a Celery worker for the tiers."""
        self._spawn(
            name,
            [
                PY,
                "-m",
                "scripts.cli",
                "worker",
                "--tier",
                tiers,
                "--concurrency",
                str(concurrency),
                "--name",
                name,
            ],
        )

    def webhooks(self, *, name: str = "webhooks", concurrency: int = 8) -> None:
        """Start the webhook delivery worker (the only consumer of the webhook queue)."""
        args = ["webhooks", "--concurrency", str(concurrency), "--name", name]
        self._spawn(name, [PY, "-m", "scripts.cli", *args])

    def scheduler(self, *, name: str = "scheduler", env: dict[str, str] | None = None) -> None:
        """Start a scheduler (dispatch and reconciliation; one of several leads).

        `env` adds to the stack's environment for this process only.
        """
        self._spawn(name, [PY, "-m", "scripts.cli", "scheduler"], env)

    def batcher(self, *, env: dict[str, str] | None = None) -> None:
        """Start the batch lane's batcher (pack, submit, poll provider batches)."""
        self._spawn("batcher", [PY, "-m", "scripts.cli", "batcher"], env)

    def flower(self, *, port: int, basic_auth: str | None = None) -> str:
        """Start Flower (`docqueue flower`: basic auth from FLOWER_BASIC_AUTH); returns its URL."""
        from schemas.config import Settings

        if basic_auth is not None:
            self.env["FLOWER_BASIC_AUTH"] = basic_auth
        basic_auth = self.env.get("FLOWER_BASIC_AUTH") or Settings().flower_basic_auth
        self._spawn(
            "flower",
            [PY, "-m", "scripts.cli", "flower", "--port", str(port), "--address", "127.0.0.1"],
        )
        url = f"http://127.0.0.1:{port}"
        user, _, password = basic_auth.partition(":")
        # Flower starts last, while every other process is still importing: give it time.
        wait_http(
            f"{url}/healthcheck", proc=self.procs["flower"], auth=(user, password), timeout=90.0
        )
        return url

    def signal(self, name: str, sig: int) -> None:
        """Send a signal to one process (SIGKILL, SIGSTOP, SIGCONT, SIGTERM)."""
        os.kill(self.procs[name].pid, sig)

    def stop(self, name: str, timeout: float = 20.0) -> int | None:
        """SIGTERM then wait (SIGKILL after `timeout`); returns the exit code."""
        return self._stop_together([name], timeout).get(name)

    def _stop_together(self, names: list[str], timeout: float) -> dict[str, int | None]:
        """SIGTERM all of them at once, then wait for each (SIGKILL after `timeout`)."""
        procs = {n: p for n in names if (p := self.procs.pop(n, None)) is not None}
        for proc in procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        codes: dict[str, int | None] = {}
        for name, proc in procs.items():
            try:
                codes[name] = proc.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                codes[name] = proc.wait(timeout=5)
        return codes

    def stop_all(self) -> None:
        """Stop every process: the workers and the others together, then simulator and API."""
        front = ("simulator", "api")
        self._stop_together([n for n in self.procs if n not in front], 20.0)
        self._stop_together([n for n in self.procs if n in front], 20.0)

    def log_tail(self, name: str, lines: int = 40) -> str:
        """The end of a process's log, for failure messages."""
        path = self.run_dir / f"{name}.log"
        return (
            "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
            if path.exists()
            else ""
        )


def wait_http(
    url: str,
    *,
    proc: subprocess.Popen[bytes] | None = None,
    timeout: float = 60.0,  # a loaded 2-core box can take 30 s to import the API
    auth: tuple[str, str] | None = None,
) -> None:
    """Poll `url` until it answers, failing fast if `proc` dies."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process for {url} exited with {proc.returncode}")
        try:
            if httpx.get(url, timeout=1.0, auth=auth).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"{url} did not answer within {timeout} s")
