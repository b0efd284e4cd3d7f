"""Parse untrusted uploads in pre-forked child processes with hard time and memory limits.

A hostile PDF can hold pypdf for minutes inside one page, where no cooperative time check
runs. So the parse runs in a child process: its address space is capped (RLIMIT_AS), its
CPU time is capped per parse (RLIMIT_CPU), it runs at a lower priority than the API, and
the parent kills it once the wall-clock limit passes. A killed child is replaced at once.
Children come from a forkserver that has already imported the parsers, so a replacement
costs a fork, not an interpreter start, and the API's threads are never forked.
"""

from __future__ import annotations

import math
import multiprocessing
import os
import resource
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

from tasks.documents.errors import DocumentInvalid
from tasks.documents.parse import ParsedDocument, extract_text
from tasks.documents.sniff import why

__all__ = ["LIMIT_REASONS", "ParseSandbox", "SandboxLimits", "parse_document"]

Target = Callable[[bytes, str | None, int], ParsedDocument]
Reply = tuple[Any, ...]  # ok: text, kind, pages, ocr_pages | invalid: reason, message | memory


@dataclass(frozen=True)
class SandboxLimits:
    """How long and how much memory one parse may take, and how many run at once."""

    timeout_s: float
    memory_bytes: int
    workers: int
    max_tasks: int = 200  # a child is replaced after this many parses (heap fragmentation)
    nice: int = 10  # parse children yield the CPU to the API's own request handling


def parse_document(content: bytes, filename: str | None, max_chars: int) -> ParsedDocument:
    """The children's default work: extract_text, timed by the sandbox's clock alone."""
    return extract_text(
        content=content, filename=filename, max_chars=max_chars, pdf_time_budget_s=math.inf
    )


def _memory_error_in(exc: BaseException) -> bool:
    """Whether a MemoryError caused `exc` (the parsers wrap every exception they meet)."""
    seen: BaseException | None = exc
    for _ in range(16):
        if seen is None:
            return False
        if isinstance(seen, MemoryError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _run(target: Target, content: bytes, filename: str | None, max_chars: int) -> Reply:
    try:
        parsed = target(content, filename, max_chars)
    except MemoryError:
        return ("memory",)
    except DocumentInvalid as exc:
        return ("memory",) if _memory_error_in(exc) else ("invalid", exc.reason, exc.message)
    except Exception as exc:  # noqa: BLE001 - a target other than extract_text may raise anything
        return ("memory",) if _memory_error_in(exc) else ("invalid", "unreadable", why(exc))
    return ("ok", parsed.text, parsed.kind, parsed.pages, parsed.ocr_pages)


def _serve(conn: Connection, limits: SandboxLimits, target: Target) -> None:
    """A child's loop: take (filename, max_chars) and the bytes, answer with a Reply."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's; it stops us
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    cap = limits.memory_bytes if hard == resource.RLIM_INFINITY else min(hard, limits.memory_bytes)
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    os.nice(limits.nice)
    cpu_per_parse = math.ceil(limits.timeout_s) + 1
    _, cpu_hard = resource.getrlimit(resource.RLIMIT_CPU)
    while True:
        try:
            filename, max_chars = conn.recv()
            content = conn.recv_bytes()
        except (EOFError, OSError):
            return  # the parent is gone (or closed us): nothing more to do
        # RLIMIT_CPU counts the process's lifetime, so each parse gets its own allowance:
        # past it the kernel sends SIGXCPU, even if the parent were too busy to kill us.
        usage = resource.getrusage(resource.RUSAGE_SELF)
        soft = math.ceil(usage.ru_utime + usage.ru_stime) + cpu_per_parse
        if cpu_hard != resource.RLIM_INFINITY:
            soft = min(soft, cpu_hard)
        resource.setrlimit(resource.RLIMIT_CPU, (soft, cpu_hard))
        reply = _run(target, content, filename, max_chars)
        del content
        try:
            conn.send(reply)
        except MemoryError:  # pickling a huge text can outgrow the cap too
            del reply
            conn.send(("memory",))


class _Child:
    """One parse process and the parent's end of its pipe."""

    def __init__(self, ctx: Any, limits: SandboxLimits, target: Target) -> None:
        parent_end, child_end = ctx.Pipe(duplex=True)
        self.process = ctx.Process(
            target=_serve, args=(child_end, limits, target), name="docqueue-parse", daemon=True
        )
        self.process.start()
        child_end.close()
        self.conn: Connection = parent_end
        self.tasks = 0

    def ask(self, content: bytes, filename: str | None, max_chars: int, timeout: float) -> Reply:
        """Send one document; its Reply, or ("timeout",) / ("died", exitcode)."""
        deadline = time.monotonic() + timeout
        self.tasks += 1
        try:
            self.conn.send((filename, max_chars))
            self.conn.send_bytes(content)
            if not self.conn.poll(max(0.0, deadline - time.monotonic())):
                return ("timeout",)
            reply: Reply = self.conn.recv()
        except (EOFError, OSError):
            self.process.join(1.0)
            code = self.process.exitcode
            if code == -signal.SIGXCPU or time.monotonic() >= deadline:
                return ("timeout",)
            return ("died", code)
        return reply

    def stop(self) -> None:
        """Kill the process (it may be stuck in C code) and reap it."""
        self.conn.close()
        if self.process.is_alive():
            self.process.kill()
        self.process.join(5.0)


LIMIT_REASONS = frozenset({"parse_timeout", "parse_memory"})  # the document broke a limit


class ParseSandbox:
    """A few pre-forked parse children; `parse` blocks its calling thread, never the GIL."""

    def __init__(self, limits: SandboxLimits, *, target: Target = parse_document) -> None:
        self.limits, self._target = limits, target
        self._ctx = multiprocessing.get_context("forkserver")
        # The parsers, and a script's __main__, are imported once by the forkserver rather
        # than once per child (children then skip re-running the main module).
        self._ctx.set_forkserver_preload(["__main__", __name__])
        self._slots = threading.BoundedSemaphore(limits.workers)
        self._lock = threading.Lock()
        self._idle: list[_Child] = []
        self._closed = False

    def start(self) -> ParseSandbox:
        """Fork the children now, so that the first upload does not wait for them."""
        children = [self._fork() for _ in range(self.limits.workers)]
        with self._lock:
            self._idle.extend(children)
        return self

    def parse(self, *, content: bytes, filename: str | None, max_chars: int) -> ParsedDocument:
        """Parse in a child; DocumentInvalid if the document is unreadable or breaks a limit."""
        with self._slots:  # at most `workers` parses at once; the rest wait here
            child = self._take()
            try:
                reply = child.ask(content, filename, max_chars, self.limits.timeout_s)
            except BaseException:
                self._give_back(child, healthy=False)
                raise
            self._give_back(child, healthy=reply[0] in ("ok", "invalid"))
        return self._outcome(reply)

    def close(self) -> None:
        """Stop every idle child; busy ones are stopped when their parse returns."""
        with self._lock:
            self._closed, idle, self._idle = True, self._idle, []
        for child in idle:
            child.stop()

    def _take(self) -> _Child:
        with self._lock:
            if self._closed:
                raise RuntimeError("the parse sandbox is closed")
            if self._idle:
                return self._idle.pop()
        return self._fork()

    def _fork(self) -> _Child:
        return _Child(self._ctx, self.limits, self._target)

    def _give_back(self, child: _Child, *, healthy: bool) -> None:
        with self._lock:
            if healthy and not self._closed and child.tasks < self.limits.max_tasks:
                self._idle.append(child)
                return
            closed = self._closed
        child.stop()  # killed mid-parse, out of memory, or worn: a fresh one takes its place
        if closed:
            return
        try:
            fresh = self._fork()
        except Exception:  # noqa: BLE001 - the next parse forks one itself
            return
        with self._lock:
            self._idle.append(fresh)

    def _outcome(self, reply: Reply) -> ParsedDocument:
        status = reply[0]
        if status == "ok":
            return ParsedDocument(
                text=reply[1], kind=reply[2], pages=reply[3], ocr_pages=tuple(reply[4])
            )
        if status == "invalid":
            raise DocumentInvalid(reply[1], reply[2])
        if status == "memory":
            limit = self.limits.memory_bytes // (1024 * 1024)
            raise DocumentInvalid(
                "parse_memory",
                f"parsing the document exceeded its memory limit ({limit} MiB); "
                "it may be malformed or hostile",
            )
        if status == "timeout":
            raise DocumentInvalid(
                "parse_timeout",
                f"parsing the document exceeded its time limit ({self.limits.timeout_s:g} s); "
                "it may be malformed or hostile",
            )
        raise DocumentInvalid(
            "unreadable",
            f"the parser stopped on this document (exit code {reply[1]}); it may be malformed",
        )
