"""The scheduler and the batcher keep their heartbeat fresh, and a wedged one fails its probe.

Each runs as a real process with HEARTBEAT_FILE set; the probe is the exact command the
Kubernetes manifests run (deploy/kubernetes/base/scheduler.yaml, batcher.yaml), with a
short limit. SIGSTOP stands in for a wedged loop: the process lives, its loop does not.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.paths import REPO
from tests.support.stacks import LiveStack, StackFactory
from tests.support.waits import wait_until

pytestmark = pytest.mark.e2e

LIMIT_S = 3  # the probe's MAX_AGE_S here: the loops come round at least every second


@pytest.fixture(scope="module")
def stack(stack_factory: StackFactory) -> Iterator[LiveStack]:
    """A stack whose scheduler and batcher each beat into a file of their own."""
    made = stack_factory(
        name="heartbeat",
        workers=[],
        scheduler=False,
        overrides={"batch_lane": {"poll_s": 1}},
    )
    run_dir = made.stack.run_dir
    made.stack.scheduler(env={"HEARTBEAT_FILE": str(run_dir / "scheduler.heartbeat")})
    made.stack.batcher(env={"HEARTBEAT_FILE": str(run_dir / "batcher.heartbeat")})
    yield made
    made.close()


def _probe(path: Path) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "tasks.observability.heartbeat", str(path), str(LIMIT_S)]
    return subprocess.run(argv, cwd=REPO, capture_output=True, text=True, check=False)


@pytest.mark.parametrize("name", ["scheduler", "batcher"])
def test_a_running_loop_passes_its_probe_and_a_wedged_one_fails_it_until_it_resumes(
    stack: LiveStack, name: str
) -> None:
    path = stack.stack.run_dir / f"{name}.heartbeat"
    wait_until(lambda: _probe(path).returncode == 0, timeout=60, what=f"{name} beats")
    stack.stack.signal(name, signal.SIGSTOP)
    try:
        wait_until(lambda: _probe(path).returncode == 1, timeout=LIMIT_S * 4, what="stale")
        assert "not alive: last beat" in _probe(path).stderr
    finally:
        stack.stack.signal(name, signal.SIGCONT)
    wait_until(lambda: _probe(path).returncode == 0, timeout=30, what=f"{name} beats again")
    assert stack.stack.procs[name].poll() is None
