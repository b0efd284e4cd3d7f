"""Worker memory stays flat: RSS after many jobs against RSS after a few.

One stack, one worker process (16 threads), simulator at 0 ms. `first` jobs go through
(after a warm-up of 100), then the worker's resident set is read from /proc; then
`total - first` more, and it is read again. A leak grows with the jobs; caches and pools
fill in the first run. The row is the second reading over the first.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from scripts.bench import pipeline as bench_pipeline
from scripts.bench.env import BenchEnv
from scripts.bench.rows import Row

WORKER = "w1"


def rss_mib(pid: int) -> float:
    """The process's resident set size, MiB (Linux /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


def scenario(
    env: BenchEnv,
    *,
    first: int,
    total: int,
    overrides: dict[str, Any],
    timeout: float,
    out: dict[str, Any],
) -> list[Row]:
    """The RSS ratio row (and both readings in `out['memory']`)."""
    stack = env.stack("memory", overrides=overrides, workers=[(WORKER, 16)])
    try:
        bench_pipeline.warm_up(stack, n=100)
        pid = stack.stack.procs[WORKER].pid
        runs = []
        for n, tag in ((first, "mem1"), (total - first, "mem2")):
            tenant = stack.tenant(concurrency=10_000)
            runs.append(bench_pipeline.run_documents(stack, tenant, n=n, tag=tag, timeout=timeout))
            runs[-1].sim["rss_mib"] = rss_mib(pid)
    finally:
        stack.close()
    early, late = (r.sim["rss_mib"] for r in runs)
    ok = all(r.done.succeeded == r.n for r in runs)
    out["memory"] = {"rss_first_mib": early, "rss_total_mib": late, "ok": ok}
    ratio = late / early
    return [
        Row(
            f"memory: worker RSS after {total:,} jobs / after {first:,}",
            f"{ratio:.3f} ({late:.0f} / {early:.0f} MiB)",
            "<= 1.2",
            ratio <= 1.2,
        ),
        Row("memory: jobs succeeded", f"{sum(r.done.succeeded for r in runs)}/{total}", "all", ok),
    ]
