"""Fresh Python processes that report what tracing did to them, as JSON (tracing tests)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

# With no endpoint: nothing of OpenTelemetry's is loaded, installed or patched.
OFF = """
import json, sys
import sqlalchemy, redis, httpx
from opentelemetry import trace
from api.app import create_app
from tasks.celery.app import trace_process
from tasks.observability import spans
create_app()
print(json.dumps({
    "celery": trace_process("probe"),
    "spans": spans.enabled(),
    "provider": type(trace.get_tracer_provider()).__name__,
    "loaded": sorted(m for m in sys.modules if m.startswith(
        ("opentelemetry.instrumentation", "opentelemetry.sdk.trace", "opentelemetry.exporter"))),
    "patched": [type(f).__name__ for f in (
        sqlalchemy.create_engine, redis.Redis.execute_command, httpx.HTTPTransport.handle_request)],
}))
"""
# A publisher (the scheduler) tracing on: which docqueue task names it knows, engine loaded?
SCHEDULER = """
import json, sys
from tasks.celery.app import app, trace_process
print(json.dumps({"on": trace_process("probe"), "tasks": sorted(n for n in app.tasks if
    n.startswith("docqueue.")), "engine": "tasks.engine.pipeline" in sys.modules}))
"""
# Ends one docqueue span as service exit-<argv[1]>, then leaves the way argv[1] says a worker
# does: its span must reach the collector although os._exit skips atexit.
EXIT = """
import os, sys, types
from celery import signals
from celery.apps import worker as celery_worker
import tasks.celery.app  # connects worker_shutdown
from tasks.celery import pool
from tasks.observability import spans
from tasks.observability.tracing import setup_tracing
from tasks.worker import handback, runtime
assert setup_tracing(f"exit-{sys.argv[1]}")
with spans.span("probe"):
    pass
if sys.argv[1] == "worker_shutdown":
    signals.worker_shutdown.send(sender=None)
    os._exit(0)
if sys.argv[1] == "hand_back":
    runtime._runtime = types.SimpleNamespace(store=None)  # no job is held: never asked
    handback.hand_back_and_exit(allowance_s=0)
celery_worker.Worker.start = lambda self: None  # Celery's run, already over
stopped = object.__new__(pool.Worker)
stopped.exitcode = 0
pool.Worker.start(stopped)
"""


def probe(code: str, *args: str, **env: str) -> object:
    """Run `code` in a fresh interpreter without OTEL_* variables but `env`: its JSON line."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    out = subprocess.run(
        [sys.executable, "-c", code, *args],
        env=clean | env,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    last = (out.stdout.strip().splitlines() or [""])[-1]
    return json.loads(last) if last.startswith("{") else None  # EXIT prints only logs
