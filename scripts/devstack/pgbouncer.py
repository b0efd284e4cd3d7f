"""A private PgBouncer (Debian's `pgbouncer`) in transaction mode in front of a dev Postgres.

It runs in the foreground as a child process, as the `postgres` system user when we are
root (PgBouncer refuses to run as root), with its config and log in a directory of its own
under /tmp that that user owns. Every database of the Postgres behind it is reachable
through it (the `*` fallback entry), so a test can point DATABASE_URL at it per database.

The pooler, not the client, sets the statement timeout: PgBouncer 1.18 refuses the
`options` startup parameter, so `connect_query` gives each server connection the timeout
docqueue's direct connections carry (storage/db.py).
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from scripts.devstack.pgsys import chown, pg_account
from scripts.devstack.procs import ServiceError, clean_env, stop_popen, tail

STATEMENT_TIMEOUT_MS = 30_000  # as storage.db.STATEMENT_TIMEOUT_MS (scripts may not be imported)


def pgbouncer_binary() -> str:
    """The pgbouncer executable, or a ServiceError that says how to install it."""
    found = shutil.which("pgbouncer") or (
        "/usr/sbin/pgbouncer" if Path("/usr/sbin/pgbouncer").is_file() else None
    )
    if found is None:
        raise ServiceError("pgbouncer not found: run `make pgbouncer` (Debian's pgbouncer)")
    return found


@dataclass
class PgBouncerServer:
    """PgBouncer on 127.0.0.1:`port`, pooling by transaction for the Postgres on `pg_port`."""

    port: int
    pg_port: int
    user: str = "docqueue"
    pool_size: int = 20
    _dir: Path | None = field(default=None, init=False, repr=False)
    _proc: subprocess.Popen[bytes] | None = field(default=None, init=False, repr=False)

    def database_url(self, name: str) -> str:
        """SQLAlchemy URL of database `name` through this pooler."""
        return f"postgresql+psycopg://{self.user}@127.0.0.1:{self.port}/{name}"

    @property
    def log_path(self) -> Path:
        """PgBouncer's log file."""
        if self._dir is None:
            raise ServiceError("pgbouncer was never started")
        return self._dir / "pgbouncer.log"

    def _write_config(self, directory: Path) -> Path:
        ini = directory / "pgbouncer.ini"
        users = directory / "userlist.txt"
        users.write_text(f'"{self.user}" ""\n')
        query = f"SET statement_timeout = {STATEMENT_TIMEOUT_MS}"
        ini.write_text(
            "; Written by scripts/devstack/pgbouncer.py at every start.\n"
            "[databases]\n"
            f"* = host=127.0.0.1 port={self.pg_port} connect_query='{query}'\n"
            "[pgbouncer]\n"
            "listen_addr = 127.0.0.1\n"
            f"listen_port = {self.port}\n"
            "unix_socket_dir =\n"
            "pool_mode = transaction\n"
            "auth_type = trust\n"
            f"auth_file = {users}\n"
            f"admin_users = {self.user}\n"
            f"default_pool_size = {self.pool_size}\n"
            "max_client_conn = 1000\n"
            f"logfile = {directory / 'pgbouncer.log'}\n"
            "server_reset_query =\n"
        )
        account = pg_account()
        for path in (directory, ini, users):
            chown(path, account)
        return ini

    def start(self, *, timeout: float = 20.0) -> None:
        """Write the config, start PgBouncer and wait until it accepts connections."""
        if self._proc is not None and self._proc.poll() is None:
            return
        # /tmp, not a pytest temp dir: the postgres user cannot traverse those.
        self._dir = Path(tempfile.mkdtemp(prefix="docqueue-pgbouncer-"))
        ini = self._write_config(self._dir)
        account = pg_account()
        self._proc = subprocess.Popen(
            [pgbouncer_binary(), "-q", str(ini)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=clean_env(),
            cwd="/",
            user=None if account is None else account.pw_uid,
            group=None if account is None else account.pw_gid,
            extra_groups=None if account is None else [],
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                break
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
            except OSError:
                time.sleep(0.1)
            else:
                return
        log = tail(self.log_path)
        self.stop()
        raise ServiceError(f"pgbouncer did not start on {self.port}:\n{log}")

    def stop(self) -> None:
        """Stop PgBouncer (SIGTERM, then SIGKILL) and delete its directory."""
        proc, self._proc = self._proc, None
        stop_popen(proc)
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
