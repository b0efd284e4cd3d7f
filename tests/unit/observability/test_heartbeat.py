"""The heartbeat probe passes only while the loop's file is younger than its limit."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from tasks.observability.heartbeat import Heartbeat, age_s, main


def test_a_beat_creates_the_file_and_makes_it_new(tmp_path: Path) -> None:
    path = tmp_path / "beat"
    Heartbeat(path).beat()
    os.utime(path, (time.time() - 500, time.time() - 500))
    Heartbeat(path).beat()
    age = age_s(path)
    assert age is not None
    assert age < 5


def test_a_heartbeat_without_a_file_writes_nothing(tmp_path: Path) -> None:
    Heartbeat(None).beat()
    assert list(tmp_path.iterdir()) == []


def test_a_beat_that_cannot_write_reports_it_and_returns(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    Heartbeat(tmp_path / "missing-dir" / "beat").beat()
    assert "cannot touch" in capsys.readouterr().err


def test_the_probe_passes_for_a_fresh_file(tmp_path: Path) -> None:
    path = tmp_path / "beat"
    Heartbeat(path).beat()
    assert main([str(path), "60"]) == 0


def test_the_probe_fails_for_a_stale_file_and_says_how_old(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "beat"
    Heartbeat(path).beat()
    os.utime(path, (time.time() - 200, time.time() - 200))
    assert main([str(path), "120"]) == 1
    assert "last beat 200 s ago (limit 120 s)" in capsys.readouterr().err


def test_the_probe_fails_when_the_loop_never_beat(tmp_path: Path) -> None:
    assert main([str(tmp_path / "never"), "120"]) == 1


def test_the_probe_without_its_two_arguments_is_a_usage_error() -> None:
    assert main(["only-one"]) == 2
