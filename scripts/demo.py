"""`make demo`: bring up the whole stack in .run/ and push the bundled samples through it.

The claim-*.txt samples go through `claims_form`, a tenant-defined extractor registered
from samples/extractors/ (the built-ins take the rest). `make down`
(python -m scripts.demo down) stops everything this started.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from scripts.client import Client as ApiClient
from scripts.devstack.postgres import PostgresServer
from scripts.devstack.redis import RedisServer
from scripts.devstack.stack import Stack

REPO = Path(__file__).resolve().parents[1]
RUN = REPO / ".run"
SAMPLES = Path(__file__).with_name("samples")
EXTRACTORS = SAMPLES / "extractors"
CLAIMS = "claims_form"  # the tenant's own extractor
CLAIM_FIELDS = ("claim_number", "claim_type", "total_claimed")  # shown in the summary table
PG_PORT, REDIS_PORT, API_PORT, SIM_PORT, FLOWER_PORT = 54329, 63799, 8000, 8900, 5555
console = Console()


def _schema_for(path: Path) -> str:
    if path.name.startswith("claim-"):
        return CLAIMS
    for prefix in ("invoice", "contract", "resume"):
        if path.name.startswith(prefix):
            return prefix
    return "document_summary"


def _env(*, real_providers: bool) -> dict[str, str]:
    env = {
        "DATABASE_URL": f"postgresql+psycopg://docqueue@127.0.0.1:{PG_PORT}/docqueue",
        "REDIS_URL": f"redis://127.0.0.1:{REDIS_PORT}/0",
        "LOG_JSON": "true",
    }
    if not real_providers:
        env |= {
            "OPENAI_BASE_URL": f"http://127.0.0.1:{SIM_PORT}/v1",
            "ANTHROPIC_BASE_URL": f"http://127.0.0.1:{SIM_PORT}",
            "OPENAI_API_KEY": "sk-sim",
            "ANTHROPIC_API_KEY": "sk-ant-sim",
        }
    return env


def _tenant_key(env: dict[str, str]) -> str:
    saved = RUN / "demo-tenant.json"
    if saved.exists():
        return str(json.loads(saved.read_text())["api_key"])
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "scripts.cli",
            "tenant",
            "create",
            f"demo-{int(time.time())}",
            "--budget-usd",
            "50",
            "--json",
        ],
        env={**os.environ, **env},
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    saved.write_text(out)
    return str(json.loads(out)["api_key"])


def _register_claims_form(api: str, key: str) -> str:
    """Register (or find unchanged) the demo tenant's `claims_form`; returns `NAME@N` and how."""
    body = {
        "name": CLAIMS,
        "description": "Insurance claim forms: claimant, incident, items and amounts claimed.",
        "json_schema": json.loads((EXTRACTORS / f"{CLAIMS}.json").read_text()),
        "instructions": (EXTRACTORS / f"{CLAIMS}.md").read_text(),
    }
    with ApiClient(base_url=api, api_key=key, attempts=3) as client:
        created, version = client.create_extractor(body)
    return f"{version['name']}@{version['version']} ({'created' if created else 'unchanged'})"


def up() -> None:
    """Start services and processes, submit the samples, print the summary."""
    real = bool(os.environ.get("OPENAI_API_KEY") or os.environ.get("ANTHROPIC_API_KEY"))
    RUN.mkdir(exist_ok=True)
    with console.status("starting Postgres and Redis in .run/"):
        PostgresServer(data_dir=RUN / "pg", port=PG_PORT).start()
        RedisServer(data_dir=RUN / "redis", port=REDIS_PORT).start()
    env = _env(real_providers=real)
    os.environ.update(env)
    subprocess.run(
        [sys.executable, "-m", "scripts.cli", "db", "upgrade"],
        env={**os.environ, **env},
        check=True,
        capture_output=True,
    )
    down_processes()
    stack = Stack(run_dir=RUN / "logs", env=env)
    with console.status("starting simulator, API, workers, webhooks, scheduler and Flower"):
        if not real:
            stack.simulator(port=SIM_PORT, latency_ms=300)
        api = stack.api(port=API_PORT)
        for tier in ("low", "medium", "high"):
            stack.worker(name=f"worker_{tier}", tiers=tier, concurrency=8)
        stack.webhooks()
        stack.scheduler()
        flower = stack.flower(port=FLOWER_PORT, basic_auth="admin:docqueue")
    (RUN / "pids.json").write_text(json.dumps({n: p.pid for n, p in stack.procs.items()}))
    key = _tenant_key(env)
    console.print(
        f"providers: {'real' if real else 'simulator'}; API {api}/docs; "
        f"Flower {flower} (admin:docqueue)"
    )
    console.print(f"custom extractor: {_register_claims_form(api, key)}")
    _submit_and_watch(api, key)
    console.print("\nThe stack stays up. Explore the API docs and Flower; `make down` stops it.")
    console.print("To use the CLI or the Python client as the demo tenant, run:")
    # Plain print, not rich: the line must stay whole and unstyled to copy and paste.
    print(f"export DOCQUEUE_API_URL={api} DOCQUEUE_API_KEY={key}")
    console.print(f"\nThe console: {api}/console. One-time sign-in for the demo tenant:")
    print(_console_link(env, api, key))


def _console_link(env: dict[str, str], api: str, key: str) -> str:
    """A one-time sign-in link (`docqueue console-link`) for the demo tenant's key."""
    prefix = key.removeprefix("dq_").split("_", 1)[0]
    done = subprocess.run(
        [sys.executable, "-m", "scripts.cli", "console-link", prefix, "--api-url", api],
        env={**os.environ, **env},
        check=True,
        capture_output=True,
        text=True,
    )
    return done.stdout.strip()


def _submit_and_watch(api: str, key: str) -> None:
    files = sorted(p for p in SAMPLES.iterdir() if p.is_file())
    client = httpx.Client(base_url=api, headers={"Authorization": f"Bearer {key}"}, timeout=60)
    ids: dict[str, str] = {}
    by_schema: dict[str, list[Path]] = {}
    for path in files:
        by_schema.setdefault(_schema_for(path), []).append(path)
    for schema, paths in by_schema.items():  # a batch per extractor: the console lists them
        docs = [
            {"filename": p.name, "content_base64": base64.b64encode(p.read_bytes()).decode()}
            for p in paths
        ]
        resp = client.post("/v1/batches", json={"schema": schema, "documents": docs})
        resp.raise_for_status()
        listed = client.get("/v1/jobs", params={"batch_id": resp.json()["id"], "limit": 1000})
        listed.raise_for_status()
        ids.update((job["filename"], job["id"]) for job in listed.json()["items"])
    jobs: dict[str, dict[str, Any]] = {}
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=console,
    ) as progress:
        task = progress.add_task("extracting", total=len(ids))
        deadline = time.monotonic() + 240  # the scanned sample is OCR'd first
        while time.monotonic() < deadline:
            for name, job_id in ids.items():
                jobs[name] = client.get(f"/v1/jobs/{job_id}").json()
            done = sum(j["status"] in ("succeeded", "failed", "cancelled") for j in jobs.values())
            progress.update(task, completed=done)
            if done == len(ids):
                break
            time.sleep(0.5)
    table = Table(title="docqueue demo results")
    columns = ("document", "schema", "status", "tier", "model", "cost (USD)", "confidence")
    for col in (*columns, "review", "fields", "error"):
        table.add_column(col)
    for name, job in jobs.items():
        usage = job.get("usage") or {}
        error = job.get("error") or {}
        table.add_row(
            name,
            str(job.get("schema") or "-"),
            str(job["status"]),
            str(job["tier"]),
            str(job.get("model") or "-"),
            str(usage.get("cost_usd", "-")),
            _confidence(job),
            str(job.get("review_state") or "-"),
            _claim_fields(job) if name.startswith("claim-") else "",
            str(error.get("type", "")),
        )
    console.print(table)
    pending = sum(job.get("review_state") == "pending" for job in jobs.values())
    scanned = sum(bool(job.get("ocr_pages")) for job in jobs.values())
    console.print(
        f"needs review: {pending} of {len(jobs)} "
        f"(a field below its confidence threshold; GET /v1/review lists them); "
        f"read by OCR: {scanned} scanned document(s)"
    )


def _confidence(job: dict[str, Any]) -> str:
    """The job's lowest field confidence, as a number (never shown by colour alone)."""
    value = job.get("confidence")
    return f"{value:.2f}" if isinstance(value, int | float) else "-"


def _claim_fields(job: dict[str, Any]) -> str:
    """A few fields of a claims_form result, to show the custom extractor at work."""
    result = job.get("result") or {}
    return " ".join(str(result.get(field, "-")) for field in CLAIM_FIELDS) if result else "-"


def down_processes() -> None:
    """Stop the processes a previous `up` started."""
    pids = RUN / "pids.json"
    if not pids.exists():
        return
    for pid in json.loads(pids.read_text()).values():
        try:
            os.killpg(pid, signal.SIGTERM)
        except (ProcessLookupError, PermissionError):
            continue
    time.sleep(1.0)
    for pid in json.loads(pids.read_text()).values():
        try:
            os.killpg(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            continue
    pids.unlink()


def down() -> None:
    """Stop everything `up` started, services included."""
    down_processes()
    RedisServer(data_dir=RUN / "redis", port=REDIS_PORT).stop()
    PostgresServer(data_dir=RUN / "pg", port=PG_PORT).stop()
    console.print("stopped")


if __name__ == "__main__":
    down() if sys.argv[1:] == ["down"] else up()
