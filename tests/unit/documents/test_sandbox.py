"""The parse sandbox: real child processes, killed past their wall clock, capped in memory."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tasks.documents.errors import DocumentInvalid
from tasks.documents.parse import ParsedDocument
from tasks.documents.sandbox import ParseSandbox, SandboxLimits
from tests.support.hostile_files import billion_laughs_pdf
from tests.unit.documents.uploads import make_pdf

MIB = 1024 * 1024
SLACK_S = 1.0  # the kill, the reap and a fresh fork, on a loaded 2-core machine


def hog_memory(content: bytes, filename: str | None, max_chars: int) -> ParsedDocument:
    """A parse that wants far more memory than its child may have."""
    hog = bytearray(1024 * MIB)
    return ParsedDocument(text=str(len(hog)), kind="text", pages=None)


def sleep_forever(content: bytes, filename: str | None, max_chars: int) -> ParsedDocument:
    """A parse stuck outside Python code (no cooperative check can stop it)."""
    time.sleep(3600)
    raise AssertionError("unreachable")


def echo_pid(content: bytes, filename: str | None, max_chars: int) -> ParsedDocument:
    """A parse that reports which process ran it."""
    return ParsedDocument(text=str(os.getpid()), kind="text", pages=None)


@pytest.fixture
def sandbox() -> Iterator[ParseSandbox]:
    """The real parser in one child, with a 1 s wall clock and 512 MiB."""
    box = ParseSandbox(SandboxLimits(timeout_s=1.0, memory_bytes=512 * MIB, workers=1)).start()
    yield box
    box.close()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie still answers kill(0); the sandbox reaps its children, so check the state
    return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] != "Z"


def test_a_real_pdf_parses_in_the_sandbox_as_it_does_in_process(sandbox: ParseSandbox) -> None:
    parsed = sandbox.parse(
        content=make_pdf(["Invoice 42", "page two"]), filename="a.pdf", max_chars=10_000
    )
    assert parsed.kind == "pdf"
    assert parsed.pages == 2
    assert "Invoice 42" in parsed.text


def test_an_unreadable_document_keeps_its_reason_and_its_child(sandbox: ParseSandbox) -> None:
    with pytest.raises(DocumentInvalid) as info:
        sandbox.parse(content=b"%PDF-1.4 not a pdf", filename="a.pdf", max_chars=10_000)
    assert info.value.reason == "unreadable_pdf"
    assert sandbox.parse(content=make_pdf(["again"]), filename="b.pdf", max_chars=100).text


def test_a_hostile_pdf_over_the_wall_clock_is_killed_within_the_limit_and_a_clear_error(
    sandbox: ParseSandbox,
) -> None:
    hostile = billion_laughs_pdf(depth=9, fan=10)  # one page: seconds inside pypdf
    child_pid = sandbox._idle[0].process.pid
    started = time.monotonic()
    with pytest.raises(DocumentInvalid) as info:
        sandbox.parse(content=hostile, filename="laughs.pdf", max_chars=10_000_000)
    took = time.monotonic() - started
    assert info.value.reason == "parse_timeout"
    assert "exceeded its time limit (1 s)" in str(info.value)
    assert 1.0 <= took < 1.0 + SLACK_S, took
    assert child_pid is not None
    assert not _alive(child_pid)
    # a fresh child took its place: the next document parses at once
    started = time.monotonic()
    assert sandbox.parse(content=make_pdf(["next"]), filename="n.pdf", max_chars=100).text
    assert time.monotonic() - started < 1.0


def test_a_parse_stuck_outside_python_is_killed_at_the_wall_clock() -> None:
    box = ParseSandbox(
        SandboxLimits(timeout_s=0.5, memory_bytes=512 * MIB, workers=1), target=sleep_forever
    ).start()
    try:
        started = time.monotonic()
        with pytest.raises(DocumentInvalid) as info:
            box.parse(content=b"x", filename=None, max_chars=10)
        assert info.value.reason == "parse_timeout"
        assert time.monotonic() - started < 0.5 + SLACK_S
    finally:
        box.close()


def test_a_parse_over_the_memory_limit_is_refused_with_a_clear_error() -> None:
    box = ParseSandbox(
        SandboxLimits(timeout_s=10.0, memory_bytes=256 * MIB, workers=1), target=hog_memory
    ).start()
    try:
        with pytest.raises(DocumentInvalid) as info:
            box.parse(content=b"x", filename=None, max_chars=10)
    finally:
        box.close()
    assert info.value.reason == "parse_memory"
    assert "exceeded its memory limit (256 MiB)" in str(info.value)


def test_parses_run_in_child_processes_never_in_the_caller() -> None:
    box = ParseSandbox(
        SandboxLimits(timeout_s=5.0, memory_bytes=512 * MIB, workers=2), target=echo_pid
    ).start()
    try:
        pids = {box.parse(content=b"x", filename=None, max_chars=10).text for _ in range(4)}
    finally:
        box.close()
    assert str(os.getpid()) not in pids
    assert 1 <= len(pids) <= 2  # the pre-forked children are reused


def nap(content: bytes, filename: str | None, max_chars: int) -> ParsedDocument:
    """A parse that takes 0.3 s of wall clock."""
    time.sleep(0.3)
    return ParsedDocument(text="ok", kind="text", pages=None)


def test_no_more_parses_run_at_once_than_there_are_workers() -> None:
    box = ParseSandbox(
        SandboxLimits(timeout_s=5.0, memory_bytes=512 * MIB, workers=2), target=nap
    ).start()
    try:
        started = time.monotonic()
        with ThreadPoolExecutor(6) as pool:
            done = list(
                pool.map(lambda _: box.parse(content=b"x", filename=None, max_chars=9), range(6))
            )
        took = time.monotonic() - started
    finally:
        box.close()
    assert [d.text for d in done] == ["ok"] * 6
    assert took >= 3 * 0.3  # six 0.3 s parses, two at a time
