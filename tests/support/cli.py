"""Client and CLI test helpers: `docqueue` as a subprocess, a client on a mock transport."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from scripts.client import Client
from tests.support.paths import REPO
from tests.support.stacks import LiveStack
from tests.support.tenants import Tenant

DOCQUEUE = str(Path(sys.executable).with_name("docqueue"))
Handler = Callable[[httpx.Request], httpx.Response]
KEY = "dq_0123abcd_supersecretkeymaterial"


def run_docqueue(
    stack: LiveStack,
    tenant: Tenant | None,
    *args: str,
    url: str | None = None,
    timeout: float = 180.0,
) -> subprocess.CompletedProcess[str]:
    """Run `docqueue ARGS` as `tenant`, on a terminal wide enough for whole table rows."""
    env = {**os.environ, "DOCQUEUE_API_URL": url or stack.api_url, "COLUMNS": "240"}
    if tenant is not None:
        env["DOCQUEUE_API_KEY"] = tenant.api_key
    else:
        env.pop("DOCQUEUE_API_KEY", None)
    return subprocess.run(
        [DOCQUEUE, *args],
        check=False,
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def ok(done: subprocess.CompletedProcess[str]) -> str:
    """The stdout of a command that must have succeeded."""
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    return done.stdout


def one_error(done: subprocess.CompletedProcess[str]) -> str:
    """The one `error:` line of a command that must have failed with exit 1."""
    assert done.returncode == 1, done.stdout + done.stderr
    assert "Traceback" not in done.stderr + done.stdout
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, done.stderr
    return errors[0]


@dataclass
class Recorder:
    """What a client did instead of sleeping: each sleep and each on_retry call."""

    slept: list[float] = field(default_factory=list)
    retries: list[tuple[int, int, float, str]] = field(default_factory=list)
    now: float = 0.0

    def sleep(self, seconds: float) -> None:
        """Sleep on a fake clock."""
        self.slept.append(seconds)
        self.now += seconds

    def on_retry(self, retry: int, retries: int, wait_s: float, reason: str) -> None:
        """Record one retry announcement."""
        self.retries.append((retry, retries, wait_s, reason))


def mock_client(handler: Handler, rec: Recorder | None = None, **kw: Any) -> Client:
    """A Client whose requests go to `handler`; its sleeps and retries land in `rec`."""
    rec = rec if rec is not None else Recorder()
    return Client(
        "http://api.test",
        kw.pop("api_key", KEY),
        transport=httpx.MockTransport(handler),
        sleep=rec.sleep,
        clock=lambda: rec.now,
        on_retry=rec.on_retry,
        **kw,
    )


def answers(*responses: httpx.Response | Exception) -> tuple[Handler, list[httpx.Request]]:
    """A handler giving `responses` in turn (an exception is raised), and the requests seen."""
    seen: list[httpx.Request] = []
    queue: Iterator[httpx.Response | Exception] = iter(responses)

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        answer = next(queue)
        if isinstance(answer, Exception):
            raise answer
        return answer

    return handler, seen


def error(
    status: int,
    type_: str = "oops",
    message: str = "it broke",
    *,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> httpx.Response:
    """An API error answer `{"error": {"type", "message", **extra}}`."""
    body = {"error": {"type": type_, "message": message, **extra}}
    return httpx.Response(status, json=body, headers=headers)


def refused() -> httpx.ConnectError:
    """The error of a connection nobody accepted."""
    return httpx.ConnectError("[Errno 111] Connection refused")


def pages(*items: Iterable[dict[str, Any]], key: str = "data") -> list[httpx.Response]:
    """Cursor pages of `key` lists: every page but the last names the next cursor."""
    chunks = [list(i) for i in items]
    last = len(chunks) - 1
    return [
        httpx.Response(200, json={key: chunk, "next_cursor": None if n == last else f"c{n + 1}"})
        for n, chunk in enumerate(chunks)
    ]
