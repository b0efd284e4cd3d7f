"""How full the provider cap is kept: time-averaged calls in flight over the cap.

A stack whose model has a cap of CAP concurrent calls and a simulator answering in
LATENCY_MS; `n` invoices. The simulator samples how many calls it holds every 50 ms. The
row is the mean of those samples over the run's steady part, from the first sample at the
cap to the last one (before it the scheduler and workers ramp up; after it fewer than CAP
jobs are left), divided by the cap. A slot left idle between one call's end and the next
call's start (a slow hand-off, a lost wake-up, a claim that waits) pulls it below 1.
"""

from __future__ import annotations

from typing import Any

from scripts.bench import pipeline as bench_pipeline
from scripts.bench.env import BenchEnv
from scripts.bench.rows import Row

CAP, LATENCY_MS, MODEL = 20, 1000, "gpt-5.6-luna"
WORKERS = [("w1", 16), ("w2", 16)]  # 32 threads for 20 slots: never short of callers


def steady_mean(samples: list[list[float]], cap: int) -> float:
    """Mean of the in-flight samples from the first at the cap to the last at the cap."""
    at_cap = [i for i, (_, n) in enumerate(samples) if n >= cap]
    if not at_cap:
        return max((n for _, n in samples), default=0.0) / 2  # never reached: well below
    window = samples[at_cap[0] : at_cap[-1] + 1]
    return sum(n for _, n in window) / len(window)


def scenario(
    env: BenchEnv, *, n: int, overrides: dict[str, Any], timeout: float, out: dict[str, Any]
) -> list[Row]:
    """The time-averaged in-flight row, with the max in flight beside it."""
    models = {m: {**cfg, "concurrency": CAP} for m, cfg in overrides["models"].items()}
    stack = env.stack(
        "inflight", overrides={**overrides, "models": models}, workers=WORKERS,
        sim_latency_ms=LATENCY_MS,
    )  # fmt: skip
    try:
        bench_pipeline.warm_up(stack, n=CAP)
        tenant = stack.tenant(concurrency=10_000)
        run = bench_pipeline.run_documents(
            stack, tenant, n=n, tag="inflight", timeout=timeout, samples=True
        )
    finally:
        stack.close()
    samples = run.sim.get("inflight_samples", [])
    mean = steady_mean(samples, CAP)
    peak = int(run.sim["by_model"].get(MODEL, {}).get("max_in_flight", -1))
    ratio = mean / CAP
    out["inflight"] = {"mean": mean, "ratio": ratio, "max": peak, "samples": len(samples)}
    label = f"{n} docs, {LATENCY_MS} ms, cap {CAP}"
    return [
        Row(
            f"in flight: time-averaged / cap ({label})",
            f"{ratio:.3f} ({mean:.1f} / {CAP})",
            ">= 0.97",
            ratio >= 0.97,
        ),
        Row(f"in flight: max at the simulator ({MODEL})", str(peak), f"<= {CAP}", 0 < peak <= CAP),
        Row(
            "in flight: jobs succeeded",
            f"{run.done.succeeded}/{run.n}",
            "all",
            run.done.succeeded == run.n,
        ),
    ]
