"""The dev servers' stop helpers end a process that obeys SIGTERM and one that ignores it."""

from __future__ import annotations

import subprocess
import time

import pytest

from scripts.devstack.procs import pid_alive, stop_pid, stop_popen

_IGNORES_TERM = ["sh", "-c", "trap '' TERM; while :; do sleep 0.1; done"]


def _started(args: list[str]) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(args)
    time.sleep(0.2)  # let the shell install its trap before it is signalled
    return proc


@pytest.mark.parametrize("args", [["sleep", "60"], _IGNORES_TERM], ids=["obeys", "ignores"])
def test_stop_popen_ends_a_child_whether_or_not_it_obeys_sigterm(args: list[str]) -> None:
    proc = _started(args)
    stop_popen(proc, timeout=0.5)
    assert proc.poll() is not None


def test_stop_popen_of_no_process_or_a_finished_one_does_nothing() -> None:
    done = subprocess.Popen(["true"])
    done.wait()
    stop_popen(None)
    stop_popen(done)
    assert done.returncode == 0


@pytest.mark.parametrize("args", [["sleep", "60"], _IGNORES_TERM], ids=["obeys", "ignores"])
def test_stop_pid_ends_a_daemon_whether_or_not_it_obeys_sigterm(args: list[str]) -> None:
    proc = _started(args)
    stop_pid(proc.pid, timeout=0.5)
    assert not pid_alive(proc.pid)  # a zombie counts as gone: no reaper needed
    proc.wait(timeout=5)
