"""Start and stop throwaway Postgres and Redis servers in user-space directories.

Both servers listen on 127.0.0.1 only, on ports the caller chooses, with all of their
state (data, socket, pid file, log) under a directory the caller chooses; no system
service, systemd unit or default port is ever touched.

Postgres refuses to run as root.  When this module runs as root it runs every server
binary (initdb, pg_ctl, postgres) as the ``postgres`` system user (creating that user
if it is missing) and chowns the data directory to it.  That user must be able to
traverse every parent of the data directory, and a Unix socket path must fit in 107
bytes.  When either fails (``tmp_path`` lives under the root-only 0700
``/tmp/pytest-of-root``; ``/work`` may be 0700 on some machines; deep paths are too
long for a socket), the data directory goes to ``/tmp/docqueue-pg-<hash of the
path>/pgdata`` instead and ``data_dir`` becomes a symlink to it.  No permission of
any existing directory is ever changed.  Fallback directories whose symlink has gone
(e.g. pytest removed an old ``tmp_path``) are deleted by the next ``start()``.

CLI (used by ``make demo`` / ``make down``)::

    python -m scripts.devstack.services up|down|status --dir .run --pg-port 54329 --redis-port 63799
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import os
import pwd
import shutil
import signal
import socket
import stat
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

PG_SYSTEM_USER = "postgres"
FALLBACK_ROOT = Path("/tmp")  # noqa: S108 - must be reachable by the postgres user
FALLBACK_PREFIX = "docqueue-pg-"
_FALLBACK_MARKER = "docqueue-owner"
_FALLBACK_GRACE_S = 300.0
_MAX_SOCKET_PATH = 100  # sun_path holds 108 bytes; keep room for ".lock" and the NUL
_LOG_TAIL_LINES = 40
_CONF_INCLUDE = "include_if_exists = 'docqueue.conf'"


class ServiceError(RuntimeError):
    """A server could not be installed, started or stopped."""


# --------------------------------------------------------------------------- helpers


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _tail(path: Path, lines: int = _LOG_TAIL_LINES) -> str:
    """Return the last `lines` lines of a text file, or a note that it is missing."""
    try:
        text = path.read_text(errors="replace")
    except OSError as exc:
        return f"(no log at {path}: {exc.strerror})"
    return "\n".join(text.splitlines()[-lines:]) or "(log is empty)"


def _clean_env() -> dict[str, str]:
    """Return the environment without libpq variables that could redirect the tools."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env["PGCONNECT_TIMEOUT"] = "5"
    return env


def _pid_alive(pid: int) -> bool:
    """Return True when a process with `pid` exists (zombies count as gone)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        status = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return status.rsplit(")", 1)[-1].split()[0] != "Z"


def _read_pid(path: Path) -> int | None:
    """Return the pid on the first line of a pid file, or None."""
    try:
        first = path.read_text().splitlines()[0].strip()
        return int(first)
    except (OSError, IndexError, ValueError):
        return None


def _pg_bindir() -> Path:
    """Return the directory holding initdb, pg_ctl, pg_isready, psql and createdb."""
    override = os.environ.get("DOCQUEUE_PG_BINDIR")
    candidates: list[Path] = [Path(override)] if override else []
    candidates.append(Path("/usr/lib/postgresql/15/bin"))
    versions = sorted(
        Path("/usr/lib/postgresql").glob("*/bin"),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
        reverse=True,
    )
    candidates.extend(versions)
    found = shutil.which("pg_ctl")
    if found:
        candidates.append(Path(found).resolve().parent)
    for cand in candidates:
        if (cand / "pg_ctl").is_file() and (cand / "initdb").is_file():
            return cand
    raise ServiceError(
        "PostgreSQL server binaries not found (looked in /usr/lib/postgresql/*/bin and PATH); "
        "install them with `apt-get install -y postgresql-15` or set DOCQUEUE_PG_BINDIR"
    )


def _pg_account() -> pwd.struct_passwd | None:
    """Return the account to run Postgres as: `postgres` when we are root, else None."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam(PG_SYSTEM_USER)
    except KeyError:
        pass
    proc = subprocess.run(
        [
            "useradd",
            "--system",
            "--user-group",
            "--no-create-home",
            "--home-dir",
            "/var/lib/postgresql",
            "--shell",
            "/bin/bash",
            PG_SYSTEM_USER,
        ],
        capture_output=True,
        text=True,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    try:
        return pwd.getpwnam(PG_SYSTEM_USER)
    except KeyError:
        raise ServiceError(
            f"Postgres refuses to run as root and the {PG_SYSTEM_USER!r} user is missing; "
            f"useradd failed: {proc.stderr.strip() or proc.returncode}"
        ) from None


def _run_as(
    account: pwd.struct_passwd | None,
    args: list[str],
    *,
    timeout: float = 120.0,
) -> subprocess.CompletedProcess[str]:
    """Run `args` (as `account` when given) with no stdin and captured output."""
    if account is None:
        return subprocess.run(
            args,
            capture_output=True,
            text=True,
            check=False,
            stdin=subprocess.DEVNULL,
            cwd="/",
            env=_clean_env(),
            timeout=timeout,
        )
    env = _clean_env()
    env.update(HOME=account.pw_dir, USER=account.pw_name, LOGNAME=account.pw_name)
    return subprocess.run(
        args,
        capture_output=True,
        text=True,
        check=False,
        stdin=subprocess.DEVNULL,
        cwd="/",
        env=env,
        timeout=timeout,
        user=account.pw_uid,
        group=account.pw_gid,
        extra_groups=[],
    )


def _can_traverse(account: pwd.struct_passwd | None, directory: Path) -> bool:
    """Return True when `account` can reach entries inside `directory` (tried for real)."""
    if account is None:
        return os.access(directory, os.X_OK)
    test = shutil.which("test") or "/usr/bin/test"
    return _run_as(account, [test, "-x", str(directory)], timeout=30).returncode == 0


def _chown(path: Path, account: pwd.struct_passwd | None) -> None:
    """Give `path` to `account` (no-op when not running as root)."""
    if account is not None:
        os.chown(path, account.pw_uid, account.pw_gid)


def _fallback_container(data_dir: Path) -> Path:
    """Return the /tmp directory that holds the cluster for `data_dir` in fallback mode."""
    digest = hashlib.sha256(str(data_dir).encode()).hexdigest()[:12]
    return FALLBACK_ROOT / f"{FALLBACK_PREFIX}{digest}"


def _collect_stale_fallbacks(*, keep: Path | None) -> None:
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
        pid = _read_pid(pgdata / "postmaster.pid")
        if pid is not None and _pid_alive(pid):
            continue
        shutil.rmtree(container, ignore_errors=True)


# --------------------------------------------------------------------------- postgres


@dataclass(kw_only=True)
class PostgresServer:
    """A private Postgres cluster in `data_dir`, listening on 127.0.0.1:`port`."""

    data_dir: Path
    port: int
    user: str = "docqueue"
    db: str = "docqueue"
    _pgdata: Path | None = field(default=None, init=False, repr=False)

    @property
    def url(self) -> str:
        """SQLAlchemy URL of the database `db` (psycopg 3 driver, trust auth)."""
        return f"postgresql+psycopg://{self.user}@127.0.0.1:{self.port}/{self.db}"

    @property
    def log_path(self) -> Path:
        """The server log file (inside the real data directory)."""
        return self._resolve_pgdata() / "postgres.log"

    # ---- layout

    def _link_path(self) -> Path:
        """`data_dir` made absolute, with its parent (not itself) resolved."""
        absolute = Path(self.data_dir).absolute()
        return absolute.parent.resolve() / absolute.name

    def _resolve_pgdata(self) -> Path:
        """Return where the cluster lives, without creating anything."""
        if self._pgdata is not None:
            return self._pgdata
        link = self._link_path()
        fallback = _fallback_container(link) / "pgdata"
        if link.is_symlink() and link.readlink() == fallback:
            return fallback
        return link.resolve()

    def _prepare_pgdata(self, account: pwd.struct_passwd | None) -> Path:
        """Pick (and create) the real data directory, falling back to /tmp when needed."""
        link = self._link_path()
        container = _fallback_container(link)
        fallback = container / "pgdata"
        link.parent.mkdir(parents=True, exist_ok=True)
        if link.is_symlink() and link.readlink() == fallback:
            self._pgdata = self._make_fallback(link, container, account)
            return self._pgdata
        real = link.resolve()
        socket_len = len(str(real)) + len("/.s.PGSQL.65535")
        if socket_len <= _MAX_SOCKET_PATH and _can_traverse(account, real.parent):
            real.mkdir(parents=True, exist_ok=True)
            _chown(real, account)
            real.chmod(0o700)
            self._pgdata = real
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
        self._pgdata = self._make_fallback(real, container, account)
        return self._pgdata

    def _make_fallback(
        self, link: Path, container: Path, account: pwd.struct_passwd | None
    ) -> Path:
        """Create /tmp/docqueue-pg-<hash>/pgdata and point `link` at it."""
        pgdata = container / "pgdata"
        fresh = not link.is_symlink()
        if fresh and container.exists() and not container.is_symlink():
            # A leftover from a data_dir that was deleted: start from scratch.
            pid = _read_pid(pgdata / "postmaster.pid")
            if pid is not None and _pid_alive(pid):
                _run_as(
                    account,
                    [
                        str(_pg_bindir() / "pg_ctl"),
                        "stop",
                        "-D",
                        str(pgdata),
                        "-m",
                        "immediate",
                        "-w",
                        "-t",
                        "30",
                    ],
                )
            shutil.rmtree(container)
        with contextlib.suppress(FileExistsError):
            container.mkdir(mode=0o700)
        st = container.lstat()
        expected_uid = account.pw_uid if account is not None else os.geteuid()
        if not stat.S_ISDIR(st.st_mode) or st.st_uid not in (expected_uid, os.geteuid()):
            raise ServiceError(f"{container} exists but is not a directory owned by us")
        _chown(container, account)
        container.chmod(0o700)
        (container / _FALLBACK_MARKER).write_text(f"{link}\n")
        pgdata.mkdir(mode=0o700, exist_ok=True)
        _chown(pgdata, account)
        pgdata.chmod(0o700)
        if fresh:
            link.symlink_to(pgdata, target_is_directory=True)
        return pgdata

    # ---- lifecycle

    def _running_port(self, pgdata: Path) -> int | None:
        """Return the port of the live postmaster in `pgdata`, or None."""
        pidfile = pgdata / "postmaster.pid"
        pid = _read_pid(pidfile)
        if pid is None or not _pid_alive(pid):
            return None
        try:
            return int(pidfile.read_text().splitlines()[3].strip())
        except (OSError, IndexError, ValueError):
            return None

    def is_running(self) -> bool:
        """Return True when this cluster's postmaster is alive."""
        try:
            pgdata = self._resolve_pgdata()
        except OSError:
            return False
        return self._running_port(pgdata) is not None

    def start(self, *, timeout: float = 60.0) -> None:
        """Init the cluster if needed, start it, wait for it and create database `db`."""
        account = _pg_account()
        bindir = _pg_bindir()
        pgdata = self._prepare_pgdata(account)
        _collect_stale_fallbacks(keep=_fallback_container(self._link_path()))
        running_port = self._running_port(pgdata)
        if running_port is not None and running_port != self.port:
            self.stop()
            running_port = None
        if running_port is None:
            if not (pgdata / "PG_VERSION").exists():
                self._initdb(account, bindir, pgdata)
            self._write_runtime_conf(account, pgdata)
            log = pgdata / "postgres.log"
            proc = _run_as(
                account,
                [
                    str(bindir / "pg_ctl"),
                    "start",
                    "-D",
                    str(pgdata),
                    "-l",
                    str(log),
                    "-w",
                    "-t",
                    str(int(timeout)),
                    "-s",
                ],
                timeout=timeout + 30,
            )
            if proc.returncode != 0:
                raise ServiceError(
                    f"Postgres failed to start on 127.0.0.1:{self.port} (data {pgdata}):\n"
                    f"{proc.stdout}{proc.stderr}\n--- tail of {log} ---\n{_tail(log)}"
                )
        self._wait_ready(bindir, pgdata, timeout=timeout)
        self._ensure_database(bindir)

    def _initdb(self, account: pwd.struct_passwd | None, bindir: Path, pgdata: Path) -> None:
        """Create a new cluster with trust auth and superuser `user`."""
        proc = _run_as(
            account,
            [
                str(bindir / "initdb"),
                "-D",
                str(pgdata),
                "--auth=trust",
                "-U",
                self.user,
                "--encoding=UTF8",
                "--locale=C",
                "--no-sync",
                "--no-instructions",
            ],
        )
        if proc.returncode != 0:
            raise ServiceError(f"initdb failed in {pgdata}:\n{proc.stdout}{proc.stderr}")
        conf = pgdata / "postgresql.conf"
        with conf.open("a") as fh:
            fh.write(f"\n# docqueue: settings managed by scripts/services.py\n{_CONF_INCLUDE}\n")

    def _write_runtime_conf(self, account: pwd.struct_passwd | None, pgdata: Path) -> None:
        """Write docqueue.conf (port, socket dir, fast test settings), read at each start."""
        socket_dir = str(pgdata).replace("'", "''")
        conf = pgdata / "docqueue.conf"
        conf.write_text(
            "# Written by scripts/services.py at every start; edits are overwritten.\n"
            f"port = {self.port}\n"
            "listen_addresses = '127.0.0.1'\n"
            f"unix_socket_directories = '{socket_dir}'\n"
            "fsync = off\n"
            "synchronous_commit = off\n"
            "full_page_writes = off\n"
            "max_connections = 300\n"
            "shared_buffers = 256MB\n"
        )
        _chown(conf, account)

    def _wait_ready(self, bindir: Path, pgdata: Path, *, timeout: float) -> None:
        """Poll pg_isready until the server accepts connections, or raise with the log."""
        deadline = time.monotonic() + timeout
        last = ""
        while True:
            proc = subprocess.run(
                [
                    str(bindir / "pg_isready"),
                    "-q",
                    "-h",
                    "127.0.0.1",
                    "-p",
                    str(self.port),
                    "-U",
                    self.user,
                    "-d",
                    "postgres",
                    "-t",
                    "2",
                ],
                capture_output=True,
                text=True,
                check=False,
                stdin=subprocess.DEVNULL,
                env=_clean_env(),
            )
            if proc.returncode == 0:
                return
            last = f"pg_isready exit {proc.returncode} {proc.stdout}{proc.stderr}".strip()
            if time.monotonic() > deadline:
                log = pgdata / "postgres.log"
                raise ServiceError(
                    f"Postgres on 127.0.0.1:{self.port} not ready after {timeout:.0f}s "
                    f"({last})\n--- tail of {log} ---\n{_tail(log)}"
                )
            time.sleep(0.2)

    def _psql(self, bindir: Path, sql: str, **variables: str) -> str:
        """Run `sql` in the `postgres` database as `user` and return tuples-only output."""
        args = [
            str(bindir / "psql"),
            "-X",
            "-q",
            "-tA",
            "-v",
            "ON_ERROR_STOP=1",
            "-h",
            "127.0.0.1",
            "-p",
            str(self.port),
            "-U",
            self.user,
            "-d",
            "postgres",
        ]
        for key, value in variables.items():
            args += ["-v", f"{key}={value}"]
        proc = subprocess.run(
            args, input=sql, capture_output=True, text=True, check=False, env=_clean_env()
        )
        if proc.returncode != 0:
            raise ServiceError(f"psql failed on 127.0.0.1:{self.port}: {proc.stderr.strip()}")
        return proc.stdout.strip()

    def _ensure_database(self, bindir: Path) -> None:
        """Create database `db` owned by `user` if it does not exist."""
        sql = "SELECT 1 FROM pg_database WHERE datname = :'db';\n"
        if self._psql(bindir, sql, db=self.db) == "1":
            return
        proc = subprocess.run(
            [
                str(bindir / "createdb"),
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-U",
                self.user,
                "--",
                self.db,
            ],
            capture_output=True,
            text=True,
            check=False,
            stdin=subprocess.DEVNULL,
            env=_clean_env(),
        )
        if proc.returncode != 0 and "already exists" not in proc.stderr:
            raise ServiceError(f"createdb {self.db!r} failed: {proc.stderr.strip()}")

    def stop(self, *, timeout: float = 60.0) -> None:
        """Stop the server with `pg_ctl stop -m fast` (no-op when it is not running)."""
        if not self.is_running():
            return
        pgdata = self._resolve_pgdata()
        proc = _run_as(
            _pg_account(),
            [
                str(_pg_bindir() / "pg_ctl"),
                "stop",
                "-D",
                str(pgdata),
                "-m",
                "fast",
                "-w",
                "-t",
                str(int(timeout)),
                "-s",
            ],
            timeout=timeout + 30,
        )
        if proc.returncode != 0 and self.is_running():
            log = pgdata / "postgres.log"
            raise ServiceError(
                f"pg_ctl stop failed for {pgdata}: {proc.stdout}{proc.stderr}\n"
                f"--- tail of {log} ---\n{_tail(log)}"
            )

    def restart(self, *, timeout: float = 60.0) -> None:
        """Stop the server if running, then start it again (data is kept)."""
        self.stop(timeout=timeout)
        self.start(timeout=timeout)

    def destroy(self) -> None:
        """Stop the server and delete its data dir (and its /tmp fallback, if any)."""
        self.stop()
        link = self._link_path()
        container = _fallback_container(link)
        if link.is_symlink():
            link.unlink()
        elif link.is_dir():
            shutil.rmtree(link, ignore_errors=True)
        if container.is_dir() and not container.is_symlink():
            shutil.rmtree(container, ignore_errors=True)
        self._pgdata = None


# --------------------------------------------------------------------------- redis


def _redis_command(port: int, *args: str, timeout: float = 2.0) -> str:
    """Send one command to Redis on 127.0.0.1:`port` and return its reply as text."""
    payload = f"*{len(args)}\r\n".encode()
    for arg in args:
        raw = arg.encode()
        payload += b"$%d\r\n%s\r\n" % (len(raw), raw)
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(payload)
        buf = b""
        while b"\r\n" not in buf:
            chunk = sock.recv(65536)
            if not chunk:
                raise ConnectionError("Redis closed the connection")
            buf += chunk
        head, _, rest = buf.partition(b"\r\n")
        kind, body = head[:1], head[1:].decode(errors="replace")
        if kind == b"-":
            raise ConnectionError(f"Redis error: {body}")
        if kind != b"$":
            return body
        size = int(body)
        if size < 0:
            return ""
        while len(rest) < size + 2:
            chunk = sock.recv(65536)
            if not chunk:
                raise ConnectionError("Redis closed the connection")
            rest += chunk
        return rest[:size].decode(errors="replace")


def _is_redis_process(pid: int) -> bool:
    """Return True when `pid` is alive and is a redis-server process."""
    if not _pid_alive(pid):
        return False
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return True
    return b"redis-server" in cmdline or b"redis" in cmdline.split(b"\0")[0]


def ensure_redis_installed() -> None:
    """Install redis-server with apt-get when it is missing from PATH."""
    if shutil.which("redis-server"):
        return
    prefix: list[str] = []
    if os.geteuid() != 0:
        if not shutil.which("sudo"):
            raise ServiceError(
                "redis-server is not installed and we are not root; run "
                "`apt-get update && apt-get install -y redis-server` as root"
            )
        prefix = ["sudo", "-n"]
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    print("redis-server not found; installing it with apt-get ...", file=sys.stderr, flush=True)
    for cmd in (
        ["apt-get", "-o", "DPkg::Lock::Timeout=300", "update"],
        [
            "apt-get",
            "-o",
            "DPkg::Lock::Timeout=300",
            "install",
            "-y",
            "--no-install-recommends",
            "redis-server",
        ],
    ):
        proc = subprocess.run(
            prefix + cmd,
            capture_output=True,
            text=True,
            check=False,
            stdin=subprocess.DEVNULL,
            env=env,
        )
        if proc.returncode != 0:
            tail = "\n".join((proc.stdout + proc.stderr).splitlines()[-_LOG_TAIL_LINES:])
            raise ServiceError(
                f"`{' '.join(cmd)}` failed with exit {proc.returncode}; could not install "
                f"redis-server:\n{tail}"
            )
    if not shutil.which("redis-server"):
        raise ServiceError("apt-get installed redis-server but it is still not on PATH")


@dataclass(kw_only=True)
class RedisServer:
    """A private, non-persistent Redis in `data_dir`, listening on 127.0.0.1:`port`."""

    data_dir: Path
    port: int

    @property
    def url(self) -> str:
        """Redis URL of database 0."""
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def pidfile(self) -> Path:
        """The server's pid file."""
        return Path(self.data_dir).absolute() / "redis.pid"

    @property
    def log_path(self) -> Path:
        """The server's log file."""
        return Path(self.data_dir).absolute() / "redis.log"

    def _pid(self) -> int | None:
        """Return the pid of our live redis-server, or None."""
        pid = _read_pid(self.pidfile)
        if pid is None or not _is_redis_process(pid):
            return None
        return pid

    def is_running(self) -> bool:
        """Return True when our redis-server is alive and answers PING on `port`."""
        pid = self._pid()
        if pid is None:
            return False
        try:
            return _redis_command(self.port, "PING") == "PONG"
        except OSError:
            return False

    def start(self, *, timeout: float = 30.0) -> None:
        """Start redis-server daemonized (no-op when already running) and wait for PING."""
        if self.is_running():
            return
        if self._pid() is not None:
            self.stop()
        binary = shutil.which("redis-server")
        if binary is None:
            raise ServiceError(
                "redis-server is not installed; run `make redis` "
                "(or call scripts.devstack.services.ensure_redis_installed())"
            )
        data = Path(self.data_dir).absolute()
        data.mkdir(parents=True, exist_ok=True)
        self.pidfile.unlink(missing_ok=True)
        log_offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        proc = subprocess.run(
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(data),
                "--daemonize",
                "yes",
                "--pidfile",
                str(self.pidfile),
                "--logfile",
                str(self.log_path),
                "--save",
                "",
                "--databases",
                "64",
                "--appendonly",
                "no",
            ],
            capture_output=True,
            text=True,
            check=False,
            stdin=subprocess.DEVNULL,
            timeout=timeout,
        )
        if proc.returncode != 0:
            raise ServiceError(
                f"redis-server failed to start on 127.0.0.1:{self.port}: "
                f"{proc.stdout}{proc.stderr}\n--- tail of {self.log_path} ---\n"
                f"{_tail(self.log_path)}"
            )
        self._wait_ready(timeout=timeout, log_offset=log_offset)

    def _new_log_text(self, offset: int) -> str:
        """Return what the server logged after byte `offset` of its log file."""
        try:
            with self.log_path.open("rb") as fh:
                fh.seek(offset)
                return fh.read().decode(errors="replace")
        except OSError:
            return ""

    def _wait_ready(self, *, timeout: float, log_offset: int) -> None:
        """Wait until our own process (per the pid file) answers PING on `port`."""
        deadline = time.monotonic() + timeout
        last = "no pid file yet"
        while True:
            pid = self._pid()
            if pid is None and "aborting" in self._new_log_text(log_offset):
                time.sleep(0.05)  # let the log finish
                raise ServiceError(
                    f"redis-server aborted while starting on 127.0.0.1:{self.port}:\n"
                    f"--- tail of {self.log_path} ---\n{_tail(self.log_path)}"
                )
            if pid is not None:
                try:
                    info = _redis_command(self.port, "INFO", "server")
                    if f"process_id:{pid}" in info:
                        if _redis_command(self.port, "PING") == "PONG":
                            return
                        last = "PING did not answer PONG"
                    else:
                        last = f"another process answers on port {self.port}"
                except OSError as exc:
                    last = str(exc)
            if time.monotonic() > deadline:
                raise ServiceError(
                    f"Redis on 127.0.0.1:{self.port} not ready after {timeout:.0f}s ({last})\n"
                    f"--- tail of {self.log_path} ---\n{_tail(self.log_path)}"
                )
            time.sleep(0.05)

    def stop(self, *, timeout: float = 15.0) -> None:
        """Stop our redis-server with SIGTERM (SIGKILL after `timeout`); no-op if stopped."""
        pid = self._pid()
        if pid is None:
            self.pidfile.unlink(missing_ok=True)
            return
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while _pid_alive(pid):
            if time.monotonic() > deadline:
                os.kill(pid, signal.SIGKILL)
                deadline = time.monotonic() + 5
            time.sleep(0.05)
        self.pidfile.unlink(missing_ok=True)

    def restart(self, *, timeout: float = 30.0) -> None:
        """Stop the server if running, then start it again (Redis keeps no data)."""
        self.stop()
        self.start(timeout=timeout)

    def flushall(self) -> None:
        """Delete every key in every database."""
        reply = _redis_command(self.port, "FLUSHALL")
        if reply != "OK":
            raise ServiceError(f"FLUSHALL answered {reply!r}")


# --------------------------------------------------------------------------- CLI


def _servers(run_dir: Path, pg_port: int, redis_port: int) -> tuple[PostgresServer, RedisServer]:
    """Return the dev stack's servers under `run_dir`."""
    return (
        PostgresServer(data_dir=run_dir / "postgres", port=pg_port),
        RedisServer(data_dir=run_dir / "redis", port=redis_port),
    )


def main(argv: list[str] | None = None) -> int:
    """Run the `up`, `down` or `status` command; return the exit code."""
    parser = argparse.ArgumentParser(
        prog="python -m scripts.devstack.services",
        description="Start/stop the dev Postgres and Redis in a user-space directory.",
    )
    parser.add_argument("command", choices=["up", "down", "status"])
    parser.add_argument("--dir", type=Path, default=Path(".run"), help="state directory")
    parser.add_argument("--pg-port", type=int, default=54329)
    parser.add_argument("--redis-port", type=int, default=63799)
    args = parser.parse_args(argv)
    pg, redis = _servers(args.dir, args.pg_port, args.redis_port)
    try:
        if args.command == "up":
            ensure_redis_installed()
            pg.start()
            redis.start()
            print(f"DATABASE_URL={pg.url}")
            print(f"REDIS_URL={redis.url}")
            return 0
        if args.command == "down":
            redis.stop()
            pg.stop()
            print(f"stopped Postgres and Redis in {args.dir}")
            return 0
        pg_up, redis_up = pg.is_running(), redis.is_running()
    except ServiceError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"postgres: {'running' if pg_up else 'stopped'}  {pg.url}")
    print(f"redis:    {'running' if redis_up else 'stopped'}  {redis.url}")
    return 0 if pg_up and redis_up else 3


if __name__ == "__main__":
    raise SystemExit(main())
