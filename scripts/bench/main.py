"""`make bench`: measure docqueue against the raw Celery floor on this machine.

    python -m scripts.bench [--quick] [--only raw,overhead,cap,enqueue,poll,lane] [--json out.json]

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
from dataclasses import asdict, dataclass
from pathlib import Path
from types import FrameType
from typing import Any

from rich.console import Console
from rich.table import Table

from scripts.bench import api as bench_api
from scripts.bench import lane as bench_lane
from scripts.bench import pipeline as bench_pipeline
from scripts.bench import raw as bench_raw
from scripts.bench.env import BenchEnv
from scripts.bench.pgconns import PeakConnections
from scripts.bench.rows import Row

REPO = Path(__file__).resolve().parents[2]
SCENARIOS = ("raw", "overhead", "cap", "enqueue", "poll", "lane")
# The same worker layout for the raw floor and the overhead run: a fair comparison.
OVERHEAD_WORKERS = [("w1", 16), ("w2", 16)]
CAP_WORKERS = [("w1", 40), ("w2", 40)]
CAP, LATENCY_MS, CAP_MODEL = 50, 200, "gpt-5.6-luna"
MODELS = ("gpt-5.6-luna", "gpt-5.6-terra", "claude-haiku-5-5", "claude-sonnet-5-5")
# Token buckets out of the way: these runs measure the pipeline, not a TPM budget.
NO_TPM = {"models": {m: {"tokens_per_minute": 10**9} for m in MODELS}}
console = Console(width=120)


@dataclass(frozen=True)
class Sizes:
    """How much work each scenario does."""

    raw: int
    overhead: int
    cap: int
    enqueue: int
    poll_rows: int
    poll_requests: int
    timeout_s: int
    lane: int  # documents run on each lane for the cost ratio
    lane_items: int  # parked items the batcher's pack and ingest are timed over


FULL = Sizes(5_000, 2_000, 3_000, 100_000, 1_000_000, 2_000, 1500, 300, 1_000)
QUICK = Sizes(1_000, 300, 600, 10_000, 100_000, 500, 600, 100, 500)


def _raw(env: BenchEnv, sizes: Sizes, out: dict[str, Any]) -> list[Row]:
    res = bench_raw.measure(
        run_dir=env.root / "logs" / "raw",
        broker=env.redis_url(),
        workers=OVERHEAD_WORKERS,
        n=sizes.raw,
        timeout=sizes.timeout_s / 4,
    )
    out["raw_per_s"] = res.per_s
    layout = " + ".join(f"{t} threads" for _, t in OVERHEAD_WORKERS)
    return [Row(f"raw floor: no-op tasks/s ({sizes.raw}, {layout})", f"{res.per_s:,.0f}")]


def _ratio(value: float, out: dict[str, Any]) -> str:
    raw = out.get("raw_per_s")
    return f" ({value / raw:.2f}x raw)" if raw else ""


def _overhead(env: BenchEnv, sizes: Sizes, out: dict[str, Any]) -> list[Row]:
    stack = env.stack("overhead", overrides=NO_TPM, workers=OVERHEAD_WORKERS)
    try:
        bench_pipeline.warm_up(stack, n=100)
        tenant = stack.tenant(concurrency=10_000)
        with PeakConnections(stack.db_url) as conns:  # the connection budget, as really used
            run = bench_pipeline.run_documents(
                stack, tenant, n=sizes.overhead, tag="ovh", timeout=sizes.timeout_s / 3
            )
    finally:
        stack.close()
    ok = run.done.succeeded == run.n
    out["overhead"] = {"jobs_per_s": run.e2e_per_s, "busy_per_s": run.busy_per_s, "ok": ok}
    out["overhead"]["peak_pg_connections"] = conns.peak
    rows = [
        Row(
            f"overhead: jobs/s end to end ({sizes.overhead} docs, 0 ms)",
            f"{run.e2e_per_s:,.1f}{_ratio(run.e2e_per_s, out)}",
        )
    ]
    raw = out.get("raw_per_s")
    if raw:
        ratio = run.e2e_per_s / raw
        out["overhead"]["ratio"] = ratio
        rows.append(Row("overhead: ratio to raw floor", f"{ratio:.3f}", ">= 0.25", ratio >= 0.25))
    rows.append(Row("overhead: jobs succeeded", f"{run.done.succeeded}/{run.n}", "all", ok))
    rows.append(
        Row(
            "overhead: peak Postgres connections in use", str(conns.peak), "<= 80", conns.peak <= 80
        )
    )
    return rows


def _cap(env: BenchEnv, sizes: Sizes, out: dict[str, Any]) -> list[Row]:
    overrides = {
        **NO_TPM,
        "models": {m: {"concurrency": CAP, "tokens_per_minute": 10**9} for m in MODELS},
    }
    stack = env.stack("cap", overrides=overrides, workers=CAP_WORKERS, sim_latency_ms=LATENCY_MS)
    try:
        bench_pipeline.warm_up(stack, n=2 * CAP)
        tenant = stack.tenant(concurrency=10_000)
        run = bench_pipeline.run_documents(
            stack, tenant, n=sizes.cap, tag="cap", timeout=sizes.timeout_s / 3
        )
    finally:
        stack.close()
    ideal = CAP / (LATENCY_MS / 1000)
    util = run.busy_per_s / ideal
    peak = int(run.sim["by_model"].get(CAP_MODEL, {}).get("max_in_flight", -1))
    out["cap"] = {
        "jobs_per_s": run.busy_per_s,
        "e2e_per_s": run.e2e_per_s,
        "utilisation": util,
        "max_in_flight": peak,
        "succeeded": run.done.succeeded,
    }
    ok_peak, all_ok = 0 < peak <= CAP, run.done.succeeded == run.n
    return [
        Row(
            f"cap: jobs/s ({sizes.cap} docs, {LATENCY_MS} ms, cap {CAP})",
            f"{run.busy_per_s:,.1f} of {ideal:.0f}{_ratio(run.busy_per_s, out)}",
        ),
        Row("cap: utilisation = jobs/s / (cap / latency)", f"{util:.3f}", ">= 0.95", util >= 0.95),
        Row(f"cap: max in flight at the simulator ({CAP_MODEL})", str(peak), f"<= {CAP}", ok_peak),
        Row("cap: jobs succeeded", f"{run.done.succeeded}/{run.n}", "all", all_ok),
    ]


def _api(env: BenchEnv, sizes: Sizes, out: dict[str, Any], which: set[str]) -> list[Row]:
    # No workers and no scheduler: enqueued jobs stay queued and are never processed.
    stack = env.stack("api", workers=[], scheduler=False)
    rows: list[Row] = []
    try:
        if "enqueue" in which:
            tenant = stack.tenant(concurrency=10)
            res = bench_api.bulk_enqueue(
                stack, tenant, n=sizes.enqueue, streams=4, timeout=sizes.timeout_s / 3
            )
            out["enqueue"] = asdict(res) | {"per_s": res.per_s}
            rows.append(
                Row(
                    f"bulk enqueue: docs/s ({sizes.enqueue:,} docs, NDJSON x{res.streams})",
                    f"{res.per_s:,.0f}{_ratio(res.per_s, out)}",
                    ">= 2,000",
                    res.per_s >= 2000,
                )
            )
        if "poll" in which:
            tenant = stack.tenant(concurrency=10)
            fill_s = bench_api.fill_jobs(stack, tenant, n=sizes.poll_rows)
            res_p = bench_api.poll_latency(
                stack, tenant, rows=sizes.poll_rows, requests=sizes.poll_requests
            )
            out["poll"] = asdict(res_p) | {"fill_s": fill_s}
            label = f"GET /v1/jobs/{{id}} ({sizes.poll_rows:,} rows, {res_p.requests} GETs)"
            rows.append(Row(f"polling p50 ms: {label}", f"{res_p.p50_ms:.2f}"))
            rows.append(
                Row(f"polling p99 ms: {label}", f"{res_p.p99_ms:.2f}", "< 25", res_p.p99_ms < 25)
            )
    finally:
        stack.close()
    return rows


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
    args = parser.parse_args(argv)
    which = {s.strip() for s in args.only.split(",") if s.strip()}
    if which - set(SCENARIOS):
        parser.error(f"unknown scenarios: {sorted(which - set(SCENARIOS))}")
    sizes = QUICK if args.quick else FULL
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
            for name, step in (("raw", _raw), ("overhead", _overhead), ("cap", _cap)):
                if name in which:
                    status.update(f"running {name}")
                    rows += step(env, sizes, out)
            if which & {"enqueue", "poll"}:
                status.update("running enqueue/poll")
                rows += _api(env, sizes, out, which)
            if "lane" in which:
                status.update("running lane")
                rows += bench_lane.scenario(
                    env, sizes.lane, sizes.lane_items, out, NO_TPM, timeout=sizes.timeout_s / 3
                )
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
