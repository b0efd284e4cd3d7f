"""`docqueue flower`: never the default password off loopback, and `/metrics` behind the auth."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from scripts.devstack.ports import free_port
from scripts.devstack.stack import Stack, wait_http

pytestmark = pytest.mark.e2e

AUTH = ("ops", "flower-exposure-pw")


def _flower_cli(*args: str, basic_auth: str | None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "FLOWER_BASIC_AUTH"}
    if basic_auth is not None:
        env["FLOWER_BASIC_AUTH"] = basic_auth
    return subprocess.run(
        [sys.executable, "-m", "scripts.cli", "flower", "--port", str(free_port()), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,  # Flower itself would run until stopped: a return means it refused
        check=False,
    )


@pytest.mark.parametrize("basic_auth", [None, "admin:docqueue", "ops:"])
def test_flower_on_every_interface_refuses_the_default_or_an_empty_password(
    basic_auth: str | None,
) -> None:
    done = _flower_cli("--address", "0.0.0.0", basic_auth=basic_auth)  # noqa: S104 - refused
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("error: refusing to serve Flower on 0.0.0.0")
    assert "FLOWER_BASIC_AUTH" in lines[0]


def test_flower_without_a_user_password_pair_refuses_even_on_loopback() -> None:
    done = _flower_cli("--address", "127.0.0.1", basic_auth="")
    assert done.returncode == 2
    assert done.stderr.strip() == (
        "error: FLOWER_BASIC_AUTH must be user:password (comma-separated for several users)"
    )


@pytest.fixture(scope="module")
def flower_url(redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real `docqueue flower` on loopback with a non-default password, on the test Redis."""
    run_dir: Path = tmp_path_factory.mktemp("flower-exposure")
    stack = Stack(run_dir=run_dir, env={"REDIS_URL": redis_url})
    port = free_port()
    try:
        try:
            url = stack.flower(port=port, basic_auth=":".join(AUTH))
        except TimeoutError:  # a loaded 2-core machine: Flower imports the whole Celery app
            url = f"http://127.0.0.1:{port}"
            wait_http(f"{url}/healthcheck", proc=stack.procs["flower"], timeout=90, auth=AUTH)
        yield url
    finally:
        stack.stop_all()


def test_flowers_metrics_need_the_basic_auth(flower_url: str) -> None:
    assert httpx.get(f"{flower_url}/metrics", timeout=10).status_code == 401
    wrong = httpx.get(f"{flower_url}/metrics", auth=("ops", "wrong"), timeout=10)
    assert wrong.status_code == 401
    scraped = httpx.get(f"{flower_url}/metrics", auth=AUTH, timeout=10)
    assert scraped.status_code == 200
    assert "flower_events_total" in scraped.text or "python_info" in scraped.text


def test_flowers_healthcheck_stays_open_for_probes(flower_url: str) -> None:
    assert httpx.get(f"{flower_url}/healthcheck", timeout=10).text == "OK"
