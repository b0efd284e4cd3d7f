"""A throwaway Postgres cluster in a user-space directory, on 127.0.0.1 only.

All of its state (data, socket, pid file, log) lives under a directory the caller chooses
(see pgdata for when that directory is a symlink into /tmp); no system service, systemd
unit or default port is ever touched.  As root the server runs as ``postgres`` (pgsys).
"""

from __future__ import annotations

import pwd
import time
from dataclasses import dataclass, field
from pathlib import Path

from scripts.devstack.pgdata import (
    collect_stale_fallbacks,
    fallback_container,
    link_path,
    prepare_pgdata,
    remove_pgdata,
    resolve_pgdata,
)
from scripts.devstack.pgsys import chown, pg_account, pg_bindir, pg_ctl_stop, run_as
from scripts.devstack.procs import ServiceError, pid_alive, read_pid, run_quiet, tail

_CONF_INCLUDE = "include_if_exists = 'docqueue.conf'"


@dataclass(kw_only=True)
class PostgresServer:
    """A private Postgres cluster in `data_dir`, listening on 127.0.0.1:`port`."""

    data_dir: Path
    port: int
    user: str = "docqueue"
    db: str = "docqueue"
    # Stock Postgres (and many a small managed one) allows 100: the suite runs against the
    # same limit, so a connection budget that does not fit shows up in tests.
    max_connections: int = 100
    _pgdata: Path | None = field(default=None, init=False, repr=False)

    @property
    def url(self) -> str:
        """SQLAlchemy URL of the database `db` (psycopg 3 driver, trust auth)."""
        return self.database_url(self.db)

    def database_url(self, name: str) -> str:
        """SQLAlchemy URL of database `name` on this server."""
        return f"postgresql+psycopg://{self.user}@127.0.0.1:{self.port}/{name}"

    @property
    def log_path(self) -> Path:
        """The server log file (inside the real data directory)."""
        return self._resolve_pgdata() / "postgres.log"

    def _link_path(self) -> Path:
        return link_path(self.data_dir)

    def _resolve_pgdata(self) -> Path:
        if self._pgdata is not None:
            return self._pgdata
        return resolve_pgdata(self._link_path())

    def _client_args(self, tool: str, bindir: Path) -> list[str]:
        """`tool`'s path and the libpq flags that reach this server as `user`."""
        return [str(bindir / tool), "-h", "127.0.0.1", "-p", str(self.port), "-U", self.user]

    # ---- lifecycle

    def _running_port(self, pgdata: Path) -> int | None:
        """Return the port of the live postmaster in `pgdata`, or None."""
        pidfile = pgdata / "postmaster.pid"
        pid = read_pid(pidfile)
        if pid is None or not pid_alive(pid):
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
        account = pg_account()
        bindir = pg_bindir()
        pgdata = self._pgdata = prepare_pgdata(self._link_path(), account)
        collect_stale_fallbacks(keep=fallback_container(self._link_path()))
        running_port = self._running_port(pgdata)
        if running_port is not None and running_port != self.port:
            self.stop()
            running_port = None
        if running_port is None:
            if not (pgdata / "PG_VERSION").exists():
                self._initdb(account, bindir, pgdata)
            self._write_runtime_conf(account, pgdata)
            log = pgdata / "postgres.log"
            proc = run_as(
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
                    f"{proc.stdout}{proc.stderr}\n--- tail of {log} ---\n{tail(log)}"
                )
        self._wait_ready(bindir, pgdata, timeout=timeout)
        self._ensure_database(bindir)

    def _initdb(self, account: pwd.struct_passwd | None, bindir: Path, pgdata: Path) -> None:
        """Create a new cluster with trust auth and superuser `user`."""
        proc = run_as(
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
            fh.write(f"\n# docqueue: settings managed by scripts/devstack\n{_CONF_INCLUDE}\n")

    def _write_runtime_conf(self, account: pwd.struct_passwd | None, pgdata: Path) -> None:
        """Write docqueue.conf (port, socket dir, fast test settings), read at each start."""
        socket_dir = str(pgdata).replace("'", "''")
        conf = pgdata / "docqueue.conf"
        conf.write_text(
            "# Written by scripts/devstack/postgres.py at every start; edits are overwritten.\n"
            f"port = {self.port}\n"
            "listen_addresses = '127.0.0.1'\n"
            f"unix_socket_directories = '{socket_dir}'\n"
            "fsync = off\n"
            "synchronous_commit = off\n"
            "full_page_writes = off\n"
            f"max_connections = {self.max_connections}\n"
            "shared_buffers = 256MB\n"
        )
        chown(conf, account)

    def _wait_ready(self, bindir: Path, pgdata: Path, *, timeout: float) -> None:
        """Poll pg_isready until the server accepts connections, or raise with the log."""
        deadline = time.monotonic() + timeout
        args = [*self._client_args("pg_isready", bindir), "-q", "-d", "postgres", "-t", "2"]
        while True:
            proc = run_quiet(args)
            if proc.returncode == 0:
                return
            last = f"pg_isready exit {proc.returncode} {proc.stdout}{proc.stderr}".strip()
            if time.monotonic() > deadline:
                log = pgdata / "postgres.log"
                raise ServiceError(
                    f"Postgres on 127.0.0.1:{self.port} not ready after {timeout:.0f}s "
                    f"({last})\n--- tail of {log} ---\n{tail(log)}"
                )
            time.sleep(0.2)

    def _psql(self, bindir: Path, sql: str, **variables: str) -> str:
        """Run `sql` in the `postgres` database as `user` and return tuples-only output."""
        args = [*self._client_args("psql", bindir), "-X", "-q", "-tA", "-v", "ON_ERROR_STOP=1"]
        args += ["-d", "postgres"]
        for key, value in variables.items():
            args += ["-v", f"{key}={value}"]
        proc = run_quiet(args, input_text=sql)
        if proc.returncode != 0:
            raise ServiceError(f"psql failed on 127.0.0.1:{self.port}: {proc.stderr.strip()}")
        return proc.stdout.strip()

    def _ensure_database(self, bindir: Path) -> None:
        """Create database `db` owned by `user` if it does not exist."""
        sql = "SELECT 1 FROM pg_database WHERE datname = :'db';\n"
        if self._psql(bindir, sql, db=self.db) == "1":
            return
        proc = run_quiet([*self._client_args("createdb", bindir), "--", self.db])
        if proc.returncode != 0 and "already exists" not in proc.stderr:
            raise ServiceError(f"createdb {self.db!r} failed: {proc.stderr.strip()}")

    def stop(self, *, timeout: float = 60.0) -> None:
        """Stop the server with `pg_ctl stop -m fast` (no-op when it is not running)."""
        if not self.is_running():
            return
        pgdata = self._resolve_pgdata()
        proc = pg_ctl_stop(pg_account(), pgdata, mode="fast", timeout=timeout)
        if proc.returncode != 0 and self.is_running():
            log = pgdata / "postgres.log"
            raise ServiceError(
                f"pg_ctl stop failed for {pgdata}: {proc.stdout}{proc.stderr}\n"
                f"--- tail of {log} ---\n{tail(log)}"
            )

    def restart(self, *, timeout: float = 60.0) -> None:
        """Stop the server if running, then start it again (data is kept)."""
        self.stop(timeout=timeout)
        self.start(timeout=timeout)

    def destroy(self) -> None:
        """Stop the server and delete its data dir (and its /tmp fallback, if any)."""
        self.stop()
        remove_pgdata(self._link_path())
        self._pgdata = None
