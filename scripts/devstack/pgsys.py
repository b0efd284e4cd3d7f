"""The host side of a private Postgres: its binaries and the account that runs them.

Postgres refuses to run as root.  When this runs as root, every server binary (initdb,
pg_ctl, postgres) runs as the ``postgres`` system user, which is created if missing.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
from pathlib import Path

from scripts.devstack.procs import ServiceError, clean_env, run_captured

PG_SYSTEM_USER = "postgres"


def pg_bindir() -> Path:
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


def pg_account() -> pwd.struct_passwd | None:
    """Return the account to run Postgres as: `postgres` when we are root, else None."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam(PG_SYSTEM_USER)
    except KeyError:
        pass
    proc = run_captured(
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
        ]
    )
    try:
        return pwd.getpwnam(PG_SYSTEM_USER)
    except KeyError:
        raise ServiceError(
            f"Postgres refuses to run as root and the {PG_SYSTEM_USER!r} user is missing; "
            f"useradd failed: {proc.stderr.strip() or proc.returncode}"
        ) from None


def run_as(
    account: pwd.struct_passwd | None,
    args: list[str],
    *,
    timeout: float = 120.0,
) -> subprocess.CompletedProcess[str]:
    """Run `args` (as `account` when given) with no stdin and captured output."""
    env = clean_env()
    if account is not None:
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
        user=None if account is None else account.pw_uid,
        group=None if account is None else account.pw_gid,
        extra_groups=None if account is None else [],
    )


def pg_ctl_stop(
    account: pwd.struct_passwd | None, pgdata: Path, *, mode: str, timeout: float = 30.0
) -> subprocess.CompletedProcess[str]:
    """Run `pg_ctl stop -m <mode>` on the cluster in `pgdata` and wait for it."""
    args = [str(pg_bindir() / "pg_ctl"), "stop", "-D", str(pgdata), "-m", mode, "-w"]
    return run_as(account, [*args, "-t", str(int(timeout)), "-s"], timeout=timeout + 30)


def can_traverse(account: pwd.struct_passwd | None, directory: Path) -> bool:
    """Return True when `account` can reach entries inside `directory` (tried for real)."""
    if account is None:
        return os.access(directory, os.X_OK)
    test = shutil.which("test") or "/usr/bin/test"
    return run_as(account, [test, "-x", str(directory)], timeout=30).returncode == 0


def chown(path: Path, account: pwd.struct_passwd | None) -> None:
    """Give `path` to `account` (no-op when not running as root)."""
    if account is not None:
        os.chown(path, account.pw_uid, account.pw_gid)
