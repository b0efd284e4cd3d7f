"""Install redis-server with apt-get when the machine lacks it (`make redis`)."""

from __future__ import annotations

import os
import shutil
import sys

from scripts.devstack.procs import LOG_TAIL_LINES, ServiceError, run_captured


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
        proc = run_captured(prefix + cmd, env=env)
        if proc.returncode != 0:
            last = "\n".join((proc.stdout + proc.stderr).splitlines()[-LOG_TAIL_LINES:])
            raise ServiceError(
                f"`{' '.join(cmd)}` failed with exit {proc.returncode}; could not install "
                f"redis-server:\n{last}"
            )
    if not shutil.which("redis-server"):
        raise ServiceError("apt-get installed redis-server but it is still not on PATH")
