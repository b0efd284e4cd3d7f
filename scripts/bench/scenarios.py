"""The bench's scenarios and their sizes: each starts what it needs and returns its rows."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from scripts.bench import api as bench_api
from scripts.bench import inflight as bench_inflight
from scripts.bench import lane as bench_lane
from scripts.bench import memory as bench_memory
from scripts.bench import pipeline as bench_pipeline
from scripts.bench import procs as bench_procs
from scripts.bench import raw as bench_raw
from scripts.bench import scale as bench_scale
from scripts.bench.env import BenchEnv
from scripts.bench.pgconns import PeakConnections
from scripts.bench.rows import Row

SCENARIOS = (
    "raw", "overhead", "cap", "inflight", "enqueue", "poll", "lane", "scale", "memory", "procs",
)  # fmt: skip
# The same worker layout for the raw floor and the overhead run: a fair comparison.
OVERHEAD_WORKERS = [("w1", 16), ("w2", 16)]
CAP_WORKERS = [("w1", 40), ("w2", 40)]
CAP, LATENCY_MS, CAP_MODEL = 50, 200, "gpt-5.6-luna"
MODELS = ("gpt-5.6-luna", "gpt-5.6-terra", "claude-haiku-5-5", "claude-sonnet-5-5")
# Token buckets out of the way: these runs measure the pipeline, not a TPM budget.
NO_TPM = {"models": {m: {"tokens_per_minute": 10**9} for m in MODELS}}


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
    scale: tuple[int, int, int]  # active tenants, queued jobs, finished jobs (scripts/bench/scale)
    memory: tuple[int, int]  # jobs before the first RSS reading, and in all (scripts/bench/memory)
    procs: tuple[int, int] = (5_000, 1_000)  # raw tasks and documents per process count
    inflight: int = 600  # documents at 1 s latency and cap 20 (scripts/bench/inflight)


FULL = Sizes(
    5_000,
    2_000,
    3_000,
    100_000,
    1_000_000,
    2_000,
    1500,
    300,
    1_000,
    (1_000, 10**6, 10**6),
    (1_000, 20_000),
)
QUICK = Sizes(
    1_000,
    300,
    600,
    10_000,
    100_000,
    500,
    600,
    100,
    500,
    (1_000, 10**5, 10**5),
    (300, 3_000),
    (1_000, 200),
    200,
)


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


def _procs(env: BenchEnv, sizes: Sizes, out: dict[str, Any]) -> list[Row]:
    n_raw, n_docs = sizes.procs
    return bench_procs.scenario(
        env, n_raw=n_raw, n_docs=n_docs, overrides=NO_TPM, timeout=sizes.timeout_s / 6, out=out
    )


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
            # The same texts from another tenant: every document is reused, so the intake
            # locks each stored row (FOR KEY SHARE, against an erasure) instead of writing it.
            again = bench_api.bulk_enqueue(
                stack, stack.tenant(concurrency=10), n=sizes.enqueue, streams=4,
                timeout=sizes.timeout_s / 3,
            )  # fmt: skip
            out["enqueue_reused"] = asdict(again) | {"per_s": again.per_s}
            rows.append(
                Row(
                    "bulk enqueue: docs/s, every text already stored / new",
                    f"{again.per_s:,.0f} / {res.per_s:,.0f}",
                    ">= 2,000",
                    again.per_s >= 2000,
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


def run(env: BenchEnv, sizes: Sizes, which: set[str], out: dict[str, Any], say: Any) -> list[Row]:
    """Every chosen scenario in turn, on the started env."""
    rows: list[Row] = []
    for name, step in (("raw", _raw), ("overhead", _overhead), ("cap", _cap)):
        if name in which:
            say(f"running {name}")
            rows += step(env, sizes, out)
    if "inflight" in which:
        say("running inflight")
        rows += bench_inflight.scenario(
            env, n=sizes.inflight, overrides=NO_TPM, timeout=sizes.timeout_s / 3, out=out
        )
    if which & {"enqueue", "poll"}:
        say("running enqueue/poll")
        rows += _api(env, sizes, out, which)
    if "lane" in which:
        say("running lane")
        rows += bench_lane.scenario(
            env, sizes.lane, sizes.lane_items, out, NO_TPM, timeout=sizes.timeout_s / 3
        )
    if "scale" in which:
        say("running scale")
        tenants, queued, finished = sizes.scale
        rows += bench_scale.scenario(
            env, tenants=tenants, queued=queued, finished=finished, out=out
        )
    if "procs" in which:
        say("running procs")
        rows += _procs(env, sizes, out)
    if "memory" in which:
        say("running memory")
        first, total = sizes.memory
        rows += bench_memory.scenario(
            env, first=first, total=total, overrides=NO_TPM, timeout=sizes.timeout_s / 2, out=out
        )
    return rows
