"""OCR an untrusted document in a child process capped in memory and killed past its clock.

`run_ocr` starts `python -m tasks.documents.ocr_run` per document, writes a JSON header
line and the bytes to its stdin, and reads one JSON answer from its stdout. A subprocess
rather than a multiprocessing forkserver, because:

- the caller is a thread of a threaded Celery worker: Popen's fork+exec runs no Python in
  the child before exec, so the worker's other threads and locks are never forked;
- the process's one forkserver belongs to the parse sandbox, whose preload list it set;
- a fresh interpreter costs ~0.5 s against ~1-3 s of Tesseract per page, leaves no pool to
  refill after a kill, and its process group takes Tesseract's processes down with it;
- the answer is JSON, so the worker never unpickles bytes from a process that read
  hostile input.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import resource
import signal
import subprocess
import sys
import tempfile
from typing import Any

from schemas.trust.config import OcrConfig
from tasks.documents.errors import DocumentInvalid
from tasks.documents.ocr import OcrKind, OcrResult, OcrUnavailable, ocr_document
from tasks.documents.sniff import why

__all__ = ["GRACE_S", "LIMIT_REASONS", "run_ocr"]

GRACE_S = 5.0  # the child's interpreter start, and a page that overruns its timeout
LIMIT_REASONS = frozenset({"ocr_timeout", "ocr_memory"})  # the document broke a limit
_NICE = 10  # OCR yields the CPU to the worker's own threads (heartbeats, leases)
# The child reads hostile bytes, so it inherits none of the worker's credentials.
_ENV_KEPT = ("PATH", "LANG", "LC_ALL", "LC_CTYPE", "PYTHONPATH", "TESSDATA_PREFIX")


def run_ocr(
    *,
    content: bytes,
    kind: OcrKind,
    pages: list[int] | None,
    config: OcrConfig,
    grace_s: float = GRACE_S,
) -> OcrResult:
    """`ocr_document` in a child process; DocumentInvalid if it fails, is killed or crashes."""
    header: dict[str, Any] = {
        "kind": kind,
        "pages": pages,
        "config": config.model_dump(mode="json"),
    }
    limit_s = config.time_limit_s + grace_s
    header["cpu_s"] = math.ceil(limit_s) + 1
    stdin = json.dumps(header).encode() + b"\n" + content
    # Tesseract's temporary files go to a directory removed even if the child is killed.
    with tempfile.TemporaryDirectory(prefix="docqueue-ocr-") as tmp:
        env = {key: os.environ[key] for key in _ENV_KEPT if key in os.environ}
        # One OpenMP thread: Tesseract's others spin on busy cores (a dense page took 22 s
        # with them on a loaded 2-core machine, 5-9 s without; 3.3 s and 2.0 s when idle).
        env |= {"OMP_THREAD_LIMIT": "1", "TMPDIR": tmp}
        child = subprocess.Popen(
            [sys.executable, "-m", "tasks.documents.ocr_run"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,  # never read: it may quote the document
            env=env,
            start_new_session=True,  # its own process group, Tesseract included
        )
        try:
            out, _ = child.communicate(stdin, timeout=limit_s)
        except subprocess.TimeoutExpired:
            _kill(child)
            raise DocumentInvalid(
                "ocr_timeout",
                f"OCR of the document exceeded its time limit ({config.time_limit_s:g} s); "
                "it may be malformed or hostile",
            ) from None
        except BaseException:
            _kill(child)
            raise
    return _answer(out, child.returncode, config)


def _kill(child: subprocess.Popen[bytes]) -> None:
    """Kill the child's process group, then reap the child.

    Only before the reap: until then the group id cannot belong to anyone else.
    """
    if child.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(child.pid, signal.SIGKILL)
    child.communicate()  # reap it and close the pipes


def _answer(out: bytes, code: int, config: OcrConfig) -> OcrResult:
    try:
        reply: dict[str, Any] = json.loads(out)
        status = reply["status"]
    except (ValueError, KeyError, TypeError):
        reply, status = {}, None
    if status == "ok":
        return OcrResult.from_dict(reply["result"])
    if status == "invalid":
        raise DocumentInvalid(str(reply["reason"]), str(reply["message"]))
    if status == "unavailable":
        raise OcrUnavailable(str(reply["message"]))
    if status == "memory" or code == -signal.SIGKILL:  # SIGKILL not ours: the OOM killer
        raise DocumentInvalid(
            "ocr_memory",
            f"OCR of the document exceeded its memory limit ({config.memory_bytes >> 20} MiB); "
            "it may be malformed or hostile",
        )
    if code == -signal.SIGXCPU:
        raise DocumentInvalid(
            "ocr_timeout", "OCR of the document exceeded its CPU time limit; it may be hostile"
        )
    raise DocumentInvalid(
        "unreadable", f"OCR stopped on this document (exit code {code}); it may be malformed"
    )


def _limit(which: int, value: int, *, hard_too: bool) -> None:
    _, hard = resource.getrlimit(which)
    cap = value if hard == resource.RLIM_INFINITY else min(hard, value)
    resource.setrlimit(which, (cap, cap if hard_too else hard))


def _serve(stdin: Any, stdout: Any) -> None:
    """The child: read the header and the bytes, OCR them, write one JSON answer."""
    header = json.loads(stdin.readline())
    config = OcrConfig.model_validate(header["config"])
    # Inherited by Tesseract's processes, each capped on its own. CPU: the soft limit
    # alone, so that the kernel sends SIGXCPU (reported as a timeout), not SIGKILL.
    _limit(resource.RLIMIT_AS, config.memory_bytes, hard_too=True)
    _limit(resource.RLIMIT_CPU, int(header["cpu_s"]), hard_too=False)
    os.nice(_NICE)
    try:
        content = stdin.read()
        result = ocr_document(
            content=content, kind=header["kind"], pages=header["pages"], config=config
        )
        reply: dict[str, Any] = {"status": "ok", "result": result.as_dict()}
    except MemoryError:
        reply = {"status": "memory"}
    except DocumentInvalid as exc:
        reply = {"status": "invalid", "reason": exc.reason, "message": exc.message}
    except OcrUnavailable as exc:
        reply = {"status": "unavailable", "message": exc.message}
    except Exception as exc:  # noqa: BLE001 - whatever breaks on a hostile file, report it
        reply = {"status": "invalid", "reason": "unreadable", "message": why(exc)}
    try:
        answer = json.dumps(reply).encode()
    except MemoryError:
        answer = b'{"status": "memory"}'
    stdout.write(answer)
    stdout.flush()


if __name__ == "__main__":
    _out = sys.stdout.buffer
    sys.stdout = sys.stderr  # a stray print must not corrupt the answer
    _serve(sys.stdin.buffer, _out)
