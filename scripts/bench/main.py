"""`make bench`: measure docqueue against the raw Celery floor on this machine.

    python -m scripts.bench [--quick] [--json out.json] [--strict] [--timeout-s N]
        [--only raw,overhead,cap,inflight,enqueue,poll,lane,scale,memory,procs]

Starts its own Postgres, Redis, simulator, API, scheduler and workers in a temp dir (all on
127.0.0.1), runs every scenario in turn on a fresh stack, prints a table and stops
everything it started, also on Ctrl-C, errors and the overall time limit.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import subprocess
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path
from types import FrameType
from typing import Any

from rich.console import Console
from rich.table import Table

from scripts.bench.env import BenchEnv
from scripts.bench.rows import Row
from scripts.bench.scenarios import FULL, QUICK, SCENARIOS, run

console = Console(width=120)

REPO = Path(__file__).resolve().parents[2]


def machine() -> dict[str, str]:
    """What the numbers were measured on."""
    free = subprocess.run(["free", "-h"], capture_output=True, text=True, check=False).stdout
    mem = next((ln.split()[1] for ln in free.splitlines() if ln.startswith("Mem:")), "?")
    return {
        "nproc": str(os.cpu_count()),
        "memory": mem,
        "python": platform.python_version(),
        "load_1m": f"{os.getloadavg()[0]:.2f}",
    }


def _table(rows: list[Row], info: dict[str, str], elapsed: float) -> Table:
    table = Table(
        title=f"docqueue bench - {info['nproc']} cores, {info['memory']} RAM, Python "
        f"{info['python']}, load {info['load_1m']} at start, {elapsed:.0f} s"
    )
    for name in ("metric", "value", "target", "met?"):
        table.add_column(name, justify="right" if name == "value" else "left")
    for row in rows:
        met = "" if row.met is None else ("[green]yes[/]" if row.met else "[red]NO[/]")
        table.add_row(row.metric, row.value, row.target, met)
    return table


def _interrupt(signum: int, _frame: FrameType | None) -> None:
    if signum == signal.SIGALRM:
        raise TimeoutError("bench: overall time limit reached")
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    """Run the chosen scenarios and print the table; returns the exit code."""
    parser = argparse.ArgumentParser(prog="python -m scripts.bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small N for a smoke run")
    parser.add_argument("--only", default=",".join(SCENARIOS), help="comma list of scenarios")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument("--keep-logs", action="store_true", help="keep the temp dir and logs")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    parser.add_argument(
        "--timeout-s", type=int, help="overall time limit (the full memory row alone takes ~20 min)"
    )
    args = parser.parse_args(argv)
    which = {s.strip() for s in args.only.split(",") if s.strip()}
    if which - set(SCENARIOS):
        parser.error(f"unknown scenarios: {sorted(which - set(SCENARIOS))}")
    sizes = QUICK if args.quick else FULL
    if args.timeout_s:
        sizes = replace(sizes, timeout_s=args.timeout_s)
    os.chdir(REPO)  # the stack starts `python -m scripts...` children
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGALRM):
        signal.signal(sig, _interrupt)
    signal.alarm(sizes.timeout_s)
    info = machine()
    out: dict[str, Any] = {"machine": info, "quick": args.quick}
    rows: list[Row] = []
    env = BenchEnv()
    began = time.monotonic()
    try:
        with console.status("starting Postgres and Redis") as status:
            env.start()
            rows += run(env, sizes, which, out, status.update)
    except KeyboardInterrupt:
        console.print("[red]interrupted; stopping everything[/]")
        return 130
    finally:
        signal.alarm(0)
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, signal.SIG_IGN)  # a second Ctrl-C must not cut the cleanup short
        with console.status("stopping everything"):
            env.close(keep_logs=args.keep_logs)
        if args.keep_logs:
            console.print(f"logs kept in {env.root}")
    console.print(_table(rows, info, time.monotonic() - began))
    out["rows"] = [asdict(r) for r in rows]
    if args.json:
        args.json.write_text(json.dumps(out, indent=2, default=str))
    missed = [r.metric for r in rows if r.met is False]
    return 1 if missed and args.strict else 0


if __name__ == "__main__":
    sys.exit(main())
