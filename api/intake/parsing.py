"""Where the API parses uploads: plain text in-process, everything else in the sandbox.

Text and Markdown need only a decode and a regex, so they stay in the request's thread.
PDF, DOCX and HTML go to this process's ParseSandbox (one per uvicorn worker, forked on
first use), whose children are killed past `limits.parse_timeout_s` or
`limits.parse_memory_bytes`. Async callers wait for a parse slot without holding a thread.
"""

from __future__ import annotations

import threading
from functools import partial

import anyio
import anyio.to_thread

from schemas.config import Limits
from tasks.documents.parse import ParsedDocument, extract_text
from tasks.documents.sandbox import ParseSandbox, SandboxLimits
from tasks.documents.sniff import detect_kind

__all__ = ["close_sandbox", "needs_sandbox", "parse", "parse_async", "sandbox"]


class _PerProcess:
    """This process's sandbox (forked on first use) and the event loop's parse limiter."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.sandbox: ParseSandbox | None = None
        self.limiter: anyio.CapacityLimiter | None = None


_state = _PerProcess()


def sandbox(limits: Limits) -> ParseSandbox:
    """This process's sandbox, started on first use with `limits`."""
    with _state.lock:
        if _state.sandbox is None:
            _state.sandbox = ParseSandbox(
                SandboxLimits(
                    timeout_s=limits.parse_timeout_s,
                    memory_bytes=limits.parse_memory_bytes,
                    workers=limits.parse_workers,
                )
            ).start()
        return _state.sandbox


def close_sandbox() -> None:
    """Stop this process's parse children (the next parse forks new ones)."""
    with _state.lock:
        current, _state.sandbox, _state.limiter = _state.sandbox, None, None
    if current is not None:
        current.close()


def needs_sandbox(content: bytes, filename: str | None) -> bool:
    """Whether parsing `content` runs a real parser (PDF, DOCX, HTML): the sandbox's work.

    Raises DocumentInvalid for a file that is named .pdf but is not one, as parsing would.
    """
    return detect_kind(content, filename) not in ("text", "markdown")


def parse(*, content: bytes, filename: str | None, limits: Limits) -> ParsedDocument:
    """Extract the text of an upload (blocking; DocumentInvalid if unusable or over a limit)."""
    if not needs_sandbox(content, filename):
        return extract_text(content=content, filename=filename, max_chars=limits.max_text_chars)
    return sandbox(limits).parse(
        content=content, filename=filename, max_chars=limits.max_text_chars
    )


async def parse_async(*, content: bytes, filename: str | None, limits: Limits) -> ParsedDocument:
    """`parse` off the event loop; waiting for a free parse child holds no worker thread."""
    job = partial(parse, content=content, filename=filename, limits=limits)
    if not needs_sandbox(content, filename):  # never queued behind slow PDFs
        return await anyio.to_thread.run_sync(job)
    if _state.limiter is None:  # bound to the running event loop, so made inside it
        _state.limiter = anyio.CapacityLimiter(limits.parse_workers)
    return await anyio.to_thread.run_sync(job, limiter=_state.limiter)
