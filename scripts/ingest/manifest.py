"""The inputs of one ingest, in order, and the batch key they make.

Every regular file under a folder is an input (hidden and empty ones too); what cannot be
sent is still an input, skipped with its reason (a folder that cannot be listed is one
too), so nothing named on the command line disappears. The batch's Idempotency-Key comes
from a manifest of the inputs (resolved path, size, mtime_ns: a stat, not a read) or from
`--run NAME`, so a re-run of the same command resumes the same batch.
"""

from __future__ import annotations

import errno
import hashlib
import os
import stat
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass
from pathlib import Path

from scripts.ingest import limits, sources
from scripts.ingest.base import shown

NOT_FOLLOWED = "a link to a folder (not followed: name the folder to include it)"
NOT_REGULAR = "not a regular file (a broken link, a pipe or a socket)"
MISSING = (errno.ENOENT, errno.ENOTDIR)
_DIR, _FILE = "dir", "file"  # what a folder entry is, when it is not a reason to skip it


@dataclass(frozen=True, slots=True)
class Input:
    """One path the ingest found: a file, a document list, or skipped (`reason`).

    `path` is the name as the OS gives it (undecodable bytes as surrogates: see
    `base.shown` for it as text); held by the million, so it is small.
    """

    path: str
    is_list: bool = False
    reason: str | None = None
    stamp: str = "-"  # size and mtime_ns, for the manifest


def walk(paths: list[str], *, exclude: Collection[str] = ()) -> list[Input]:
    """Every input the command line names, in order; a path named twice counts once.

    `exclude` are files that are never inputs (the --out file and its `.part`), by
    resolved path.
    """
    found: dict[str, Input] = {}
    skip = _excluder(exclude)
    for raw in paths:
        for name in sources.matches(raw):
            path = str(Path(name))  # as a folder walk spells it: no `./`, no `//`
            try:
                os.lstat(path)
            except OSError as exc:
                if exc.errno in MISSING:
                    raise sources.SourceError(f"no such file or folder: {shown(raw)}") from None
                # Inside a folder we may not search: it may exist, but cannot be read.
                found.setdefault(path, Input(path, reason=f"cannot read: {_why(exc)}"))
                continue
            kind = _kind(path)
            if kind == _DIR:
                for inner in _tree(path, skip):
                    found.setdefault(inner.path, inner)
            elif kind == _FILE:
                if not skip(path) and (path not in found or found[path].reason is not None):
                    # named itself, a list inside a folder that was named too is read
                    found[path] = _stamped(path, is_list=sources.is_list(path))
            else:
                found.setdefault(path, Input(path, reason=kind))
    return list(found.values())


def _kind(path: str) -> str:
    """A named path: a folder (a link to one is followed), a file, or why it is skipped."""
    try:
        mode = os.stat(path).st_mode  # noqa: PTH116 - str paths: no Path per input
    except OSError as exc:
        return NOT_REGULAR if exc.errno in (*MISSING, errno.ELOOP) else f"cannot read: {_why(exc)}"
    return _DIR if stat.S_ISDIR(mode) else _FILE if stat.S_ISREG(mode) else NOT_REGULAR


def _entry_kind(entry: os.DirEntry[str]) -> str:
    """A folder entry: a folder (links to folders are not followed), a file, or a reason."""
    try:
        if entry.is_dir(follow_symlinks=False):
            return _DIR
        if entry.is_symlink():
            return NOT_FOLLOWED if entry.is_dir() else _FILE if entry.is_file() else NOT_REGULAR
        return _FILE if entry.is_file(follow_symlinks=False) else NOT_REGULAR
    except OSError as exc:
        return f"cannot read: {_why(exc)}"


def _listing(folder: str) -> Iterator[tuple[str, str]] | Input:
    """A folder's (name, kind) pairs, sorted, or the Input that says it cannot be read."""
    try:
        with os.scandir(folder) as entries:
            listed = sorted((entry.name, _entry_kind(entry)) for entry in entries)
    except OSError as exc:
        return Input(folder, reason=f"cannot read folder: {_why(exc)}")
    return iter(listed)


def _tree(folder: str, skip: Callable[[str], bool]) -> Iterator[Input]:
    """A folder's files, depth first and sorted (as sorted paths are); lists are not read.

    A stack, not recursion: a tree may be deeper than Python's recursion limit.
    """
    top = _listing(folder)
    if isinstance(top, Input):
        yield top
        return
    stack = [(folder, top)]
    while stack:
        parent, listing = stack[-1]
        name, kind = next(listing, ("", ""))
        if not kind:
            stack.pop()
            continue
        path = name if parent == "." else os.path.join(parent, name)  # noqa: PTH118
        if kind == _DIR:
            inner = _listing(path)
            if isinstance(inner, Input):
                yield inner
            else:
                stack.append((path, inner))
        elif kind != _FILE:
            yield Input(path, reason=kind)
        elif skip(path):
            continue
        elif sources.is_list(path):
            suffix = os.path.splitext(name)[1]  # noqa: PTH122
            why = f"a document list ({suffix}) inside a folder: name it to send its rows"
            yield _stamped(path, reason=why)
        else:
            yield _stamped(path)


def _excluder(exclude: Collection[str]) -> Callable[[str], bool]:
    """Whether a file is one of `exclude`; only a file of the same name is resolved."""
    targets = {os.path.realpath(p) for p in exclude}
    if not targets:
        return lambda _: False
    names = {os.path.basename(p) for p in targets}  # noqa: PTH119
    return lambda path: os.path.basename(path) in names and os.path.realpath(path) in targets  # noqa: PTH119


def _why(exc: OSError) -> str:
    return exc.strerror or type(exc).__name__


def _stamped(path: str, *, is_list: bool = False, reason: str | None = None) -> Input:
    try:
        info = os.stat(path)  # noqa: PTH116 - str paths: no Path per input
    except OSError as exc:
        return Input(path, is_list, reason or f"cannot read: {_why(exc)}")
    if reason is None and not is_list and info.st_size > limits.max_file_bytes():
        # Not read, let alone sent: its request would be refused whole (413). A list is
        # read row by row: its rows are checked one by one.
        reason = limits.too_large(info.st_size, limits.max_file_bytes())
    return Input(path, is_list, reason, f"{info.st_size}\0{info.st_mtime_ns}")


def batch_key(inputs: list[Input], *, schema: str, tier: str, run: str | None = None) -> str:
    """The Idempotency-Key every request of this ingest carries: one ingest, one batch.

    With `run`, the name stands for the inputs, so an ingest whose files changed resumes.
    The manifest is sorted: the same files named in another order are the same ingest.
    """
    digest = hashlib.sha256(f"{schema}\0{tier}\0".encode())
    if run is not None:
        digest.update(b"run\0" + run.encode())
        return f"ingest-run:{digest.hexdigest()[:48]}"
    lines = sorted(f"{_resolved(i.path)}\0{i.stamp}\n" for i in inputs)
    for line in lines:
        digest.update(line.encode("utf-8", "surrogateescape"))
    return f"ingest:{digest.hexdigest()[:48]}"


def _resolved(path: str) -> str:
    try:
        return str(Path(path).resolve())
    except (OSError, RuntimeError):  # a link loop
        return os.path.abspath(path)  # noqa: PTH100 - resolve() is what failed


def count(inputs: list[Input]) -> int:
    """How many entries the inputs make (a list counts its rows), for the upload bar."""
    return sum(sources.count_rows(i.path) if i.is_list and not i.reason else 1 for i in inputs)


def documents(inputs: list[Input], *, schema: str) -> Iterator[sources.Item]:
    """Every entry of the inputs, in order: a document to send, or a skipped path."""
    for found in inputs:
        if found.reason is not None:
            yield sources.Item(shown(found.path), None, found.reason)
        elif found.is_list:
            yield from sources.list_items(found.path, schema)
        else:
            yield sources.file_item(found.path, schema)
