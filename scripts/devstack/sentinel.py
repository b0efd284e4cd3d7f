"""A private Redis Sentinel group: a master, a replica and three sentinels (Debian's).

For the failover tests: `REDIS_URL` in Sentinel form (tasks/flow/connection.py) names the
three sentinels; `kill_master()` SIGKILLs the master and `wait_failover()` returns once a
quorum of sentinels has promoted the replica. Sentinels fail over after one second down.
"""

from __future__ import annotations

import os
import shutil
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path

from scripts.devstack.ports import free_port
from scripts.devstack.procs import (
    ServiceError,
    read_pid,
    run_captured,
    stop_pid,
    tail,
)
from scripts.devstack.redis import RedisServer, redis_command

MASTER_NAME = "dqmaster"
DOWN_AFTER_MS = 1000


@dataclass
class SentinelServer:
    """One redis-sentinel on 127.0.0.1:`port`, watching `master_port`."""

    data_dir: Path
    port: int
    master_port: int

    @property
    def pidfile(self) -> Path:
        """Its pid file."""
        return self.data_dir / "sentinel.pid"

    def start(self, *, timeout: float = 20.0) -> None:
        """Write its config (sentinel rewrites it) and start it daemonized."""
        binary = shutil.which("redis-sentinel")
        if binary is None:
            raise ServiceError("redis-sentinel not found: run `make sentinel`")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        conf = self.data_dir / "sentinel.conf"
        conf.write_text(
            f"port {self.port}\nbind 127.0.0.1\ndaemonize yes\n"
            f"pidfile {self.pidfile}\nlogfile {self.data_dir / 'sentinel.log'}\n"
            f"dir {self.data_dir}\n"
            f"sentinel monitor {MASTER_NAME} 127.0.0.1 {self.master_port} 2\n"
            f"sentinel down-after-milliseconds {MASTER_NAME} {DOWN_AFTER_MS}\n"
            f"sentinel failover-timeout {MASTER_NAME} 10000\n"
            f"sentinel parallel-syncs {MASTER_NAME} 1\n"
        )
        proc = run_captured([binary, str(conf)], timeout=timeout)
        if proc.returncode != 0:
            raise ServiceError(f"redis-sentinel failed: {proc.stdout}{proc.stderr}")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if redis_command(self.port, "PING") == "PONG":
                    return
            except OSError:
                time.sleep(0.05)
        raise ServiceError(
            f"sentinel on {self.port} not ready:\n{tail(self.data_dir / 'sentinel.log')}"
        )

    def stop(self) -> None:
        """SIGTERM, then SIGKILL."""
        stop_pid(read_pid(self.pidfile))


@dataclass
class SentinelGroup:
    """A master and its replica under three sentinels, all in `data_dir`."""

    data_dir: Path
    master: RedisServer = field(init=False)
    replica: RedisServer = field(init=False)
    sentinels: list[SentinelServer] = field(init=False)

    def __post_init__(self) -> None:
        master_port = free_port()
        self.master = RedisServer(data_dir=self.data_dir / "master", port=master_port)
        self.replica = RedisServer(
            data_dir=self.data_dir / "replica",
            port=free_port(),
            extra_args=("--replicaof", "127.0.0.1", str(master_port)),
        )
        self.sentinels = [
            SentinelServer(self.data_dir / f"sentinel{i}", free_port(), master_port)
            for i in range(3)
        ]

    def url(self, db: int = 0) -> str:
        """REDIS_URL in docqueue's Sentinel form."""
        hosts = ",".join(f"127.0.0.1:{s.port}" for s in self.sentinels)
        return f"redis+sentinel://{hosts}/{MASTER_NAME}/{db}"

    def start(self) -> None:
        """Master, replica (synced), then the sentinels."""
        self.master.start()
        self.replica.start()
        deadline = time.monotonic() + 20
        while "master_link_status:up" not in redis_command(
            self.replica.port, "INFO", "replication"
        ):
            if time.monotonic() > deadline:
                raise ServiceError("the replica never synced with its master")
            time.sleep(0.1)
        for sentinel in self.sentinels:
            sentinel.start()

    def kill_master(self) -> None:
        """SIGKILL the current master (no shutdown, no last write)."""
        pid = read_pid(self.master.pidfile)
        if pid is not None:
            os.kill(pid, signal.SIGKILL)

    def wait_failover(self, *, timeout: float = 30.0) -> float:
        """Seconds until the replica is master (its INFO says so)."""
        start = time.monotonic()
        while time.monotonic() - start < timeout:
            try:
                if "role:master" in redis_command(self.replica.port, "INFO", "replication"):
                    return time.monotonic() - start
            except OSError:
                pass
            time.sleep(0.05)
        raise ServiceError(f"no failover within {timeout:.0f}s")

    def stop(self) -> None:
        """Stop every process of the group."""
        for sentinel in self.sentinels:
            sentinel.stop()
        self.replica.stop()
        self.master.stop()
