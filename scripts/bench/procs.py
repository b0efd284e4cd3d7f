"""`--only procs`: throughput per worker process count, each against its own raw floor.

For 1, 2 and 4 worker processes of 16 threads each, the raw Celery floor is measured with
that layout, then the same layout runs the overhead scenario (invoices, simulator at
0 ms). The ratio of the two is the curve `docs/benchmarks.md` shows: on a machine with
fewer cores than processes it says what a process costs, not what it adds.
"""

from __future__ import annotations

from typing import Any

from scripts.bench import pipeline as bench_pipeline
from scripts.bench import raw as bench_raw
from scripts.bench.env import BenchEnv
from scripts.bench.rows import Row

PROCESSES = (1, 2, 4)
THREADS = 16


def scenario(
    env: BenchEnv,
    *,
    n_raw: int,
    n_docs: int,
    overrides: dict[str, Any],
    timeout: float,
    out: dict[str, Any],
) -> list[Row]:
    """The raw floor and the pipeline's jobs/s for each process count, and their ratio."""
    rows: list[Row] = []
    curve: dict[str, dict[str, float]] = {}
    for count in PROCESSES:
        layout = [(f"p{i + 1}", THREADS) for i in range(count)]
        raw = bench_raw.measure(
            run_dir=env.root / "logs" / f"raw-{count}",
            broker=env.redis_url(),
            workers=layout,
            n=n_raw,
            timeout=timeout,
        )
        stack = env.stack(f"procs-{count}", overrides=overrides, workers=layout)
        try:
            bench_pipeline.warm_up(stack, n=50 * count)
            tenant = stack.tenant(concurrency=10_000)
            run = bench_pipeline.run_documents(
                stack, tenant, n=n_docs, tag=f"p{count}", timeout=timeout
            )
        finally:
            stack.close()
        ratio = run.e2e_per_s / raw.per_s if raw.per_s else 0.0
        curve[str(count)] = {"raw_per_s": raw.per_s, "jobs_per_s": run.e2e_per_s, "ratio": ratio}
        ok = run.done.succeeded == run.n
        rows.append(
            Row(
                f"procs: {count} x {THREADS} threads, jobs/s / raw ({n_docs} docs)",
                f"{ratio:.3f} ({run.e2e_per_s:,.1f} / {raw.per_s:,.0f})",
                "all succeed",
                ok,
            )
        )
    out["procs"] = curve
    return rows
