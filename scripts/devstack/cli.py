"""`python -m scripts.devstack up|down|status`: the dev stack's Postgres and Redis.

Used by `make services-up` / `make services-down` / `make services-status`::

    python -m scripts.devstack up|down|status --dir .run --pg-port 54329 --redis-port 63799
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from scripts.devstack.install import ensure_redis_installed
from scripts.devstack.postgres import PostgresServer
from scripts.devstack.procs import ServiceError
from scripts.devstack.redis import RedisServer


def _servers(run_dir: Path, pg_port: int, redis_port: int) -> tuple[PostgresServer, RedisServer]:
    """Return the dev stack's servers under `run_dir`."""
    return (
        PostgresServer(data_dir=run_dir / "postgres", port=pg_port),
        RedisServer(data_dir=run_dir / "redis", port=redis_port),
    )


def main(argv: list[str] | None = None) -> int:
    """Run the `up`, `down` or `status` command; return the exit code."""
    parser = argparse.ArgumentParser(
        prog="python -m scripts.devstack",
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
