"""Where a private Postgres cluster keeps its data, with a /tmp fallback when it must.

The ``postgres`` user (see pgsys) must be able to traverse every parent of the data
directory, and a Unix socket path must fit in 107 bytes.  When either fails (``tmp_path``
lives under the root-only 0700 ``/tmp/pytest-of-root``; ``/work`` may be 0700 on some
machines; deep paths are too long for a socket), the data directory goes to
``/tmp/docqueue-pg-<hash of the path>/pgdata`` instead and ``data_dir`` becomes a symlink
to it.  No permission of any existing directory is ever changed.  Fallback directories
whose symlink has gone (e.g. pytest removed an old ``tmp_path``) are deleted by the next
``PostgresServer.start()``.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import pwd
import shutil
import stat
import time
from pathlib import Path

from scripts.devstack.pgsys import PG_SYSTEM_USER, can_traverse, chown, pg_ctl_stop
from scripts.devstack.procs import ServiceError, pid_alive, read_pid

FALLBACK_ROOT = Path("/tmp")  # noqa: S108 - must be reachable by the postgres user
FALLBACK_PREFIX = "docqueue-pg-"
_FALLBACK_MARKER = "docqueue-owner"
_FALLBACK_GRACE_S = 300.0
_MAX_SOCKET_PATH = 100  # sun_path holds 108 bytes; keep room for ".lock" and the NUL


def link_path(data_dir: Path) -> Path:
    """`data_dir` made absolute, with its parent (not itself) resolved."""
    absolute = Path(data_dir).absolute()
    return absolute.parent.resolve() / absolute.name


def fallback_container(link: Path) -> Path:
    """Return the /tmp directory that holds the cluster for `link` in fallback mode."""
    digest = hashlib.sha256(str(link).encode()).hexdigest()[:12]
    return FALLBACK_ROOT / f"{FALLBACK_PREFIX}{digest}"


def resolve_pgdata(link: Path) -> Path:
    """Return where the cluster for `link` lives, without creating anything."""
    fallback = fallback_container(link) / "pgdata"
    if link.is_symlink() and link.readlink() == fallback:
        return fallback
    return link.resolve()


def collect_stale_fallbacks(*, keep: Path | None) -> None:
    """Delete fallback dirs whose data_dir symlink is gone and whose server is stopped."""
    now = time.time()
    for container in FALLBACK_ROOT.glob(f"{FALLBACK_PREFIX}*"):
        if keep is not None and container == keep:
            continue
        try:
            st = container.lstat()
            if not stat.S_ISDIR(st.st_mode) or now - st.st_mtime < _FALLBACK_GRACE_S:
                continue
            owner = Path((container / _FALLBACK_MARKER).read_text().strip())
        except OSError:
            continue
        pgdata = container / "pgdata"
        with contextlib.suppress(OSError):
            if owner.is_symlink() and owner.readlink() == pgdata:
                continue  # still in use
        pid = read_pid(pgdata / "postmaster.pid")
        if pid is not None and pid_alive(pid):
            continue
        shutil.rmtree(container, ignore_errors=True)


def prepare_pgdata(link: Path, account: pwd.struct_passwd | None) -> Path:
    """Pick (and create) the real data directory, falling back to /tmp when needed."""
    container = fallback_container(link)
    fallback = container / "pgdata"
    link.parent.mkdir(parents=True, exist_ok=True)
    if link.is_symlink() and link.readlink() == fallback:
        return _make_fallback(link, container, account)
    real = link.resolve()
    socket_len = len(str(real)) + len("/.s.PGSQL.65535")
    if socket_len <= _MAX_SOCKET_PATH and can_traverse(account, real.parent):
        real.mkdir(parents=True, exist_ok=True)
        chown(real, account)
        real.chmod(0o700)
        return real
    if real.exists() and (not real.is_dir() or any(real.iterdir())):
        reason = (
            "its Unix socket path would be too long"
            if socket_len > _MAX_SOCKET_PATH
            else f"user {PG_SYSTEM_USER!r} cannot traverse {real.parent}"
        )
        raise ServiceError(
            f"cannot use Postgres data dir {real}: {reason}, and it is not empty, "
            "so it cannot be replaced by a symlink to /tmp; move or delete it"
        )
    if real.exists():
        real.rmdir()
    elif link.is_symlink():
        link.unlink()
    return _make_fallback(real, container, account)


def _make_fallback(link: Path, container: Path, account: pwd.struct_passwd | None) -> Path:
    """Create /tmp/docqueue-pg-<hash>/pgdata and point `link` at it."""
    pgdata = container / "pgdata"
    fresh = not link.is_symlink()
    if fresh and container.exists() and not container.is_symlink():
        # A leftover from a data_dir that was deleted: start from scratch.
        pid = read_pid(pgdata / "postmaster.pid")
        if pid is not None and pid_alive(pid):
            pg_ctl_stop(account, pgdata, mode="immediate")
        shutil.rmtree(container)
    with contextlib.suppress(FileExistsError):
        container.mkdir(mode=0o700)
    st = container.lstat()
    expected_uid = account.pw_uid if account is not None else os.geteuid()
    if not stat.S_ISDIR(st.st_mode) or st.st_uid not in (expected_uid, os.geteuid()):
        raise ServiceError(f"{container} exists but is not a directory owned by us")
    chown(container, account)
    container.chmod(0o700)
    (container / _FALLBACK_MARKER).write_text(f"{link}\n")
    pgdata.mkdir(mode=0o700, exist_ok=True)
    chown(pgdata, account)
    pgdata.chmod(0o700)
    if fresh:
        link.symlink_to(pgdata, target_is_directory=True)
    return pgdata


def remove_pgdata(link: Path) -> None:
    """Delete the data directory at `link` and its /tmp fallback, if any."""
    container = fallback_container(link)
    if link.is_symlink():
        link.unlink()
    elif link.is_dir():
        shutil.rmtree(link, ignore_errors=True)
    if container.is_dir() and not container.is_symlink():
        shutil.rmtree(container, ignore_errors=True)
