"""The data of scripts/bench/partitions.py: the fill (jobs, calls, holds) and its footprint.

Every value is a function of the job's number `g` (hashint8 for spread), so two runs with
the same --rows load the same rows (budget hold ids aside). `jobs` ids are md5('j' || g),
tenant i's id md5('t' || i): tenant 1 is the biggest (~3% of the jobs), tenant 500 median.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg

from scripts.devstack.ports import free_port
from scripts.devstack.postgres import PostgresServer

TENANTS, DAYS, BLOCK, CHUNK = 1_000, 730, 2_000, 250_000  # tenants, span, batch, jobs per txn
U = "((hashint8(({})::bigint)::bigint + 2147483648) / 4294967296.0)"  # uniform [0, 1) of x
_SETUP = [
    "INSERT INTO tenants (id, name, monthly_budget_usd, concurrency, webhook_secret)"
    " SELECT md5('t' || i)::uuid, 'part-' || i, 100000, 32, 'whsec_bench'"
    " FROM generate_series(1, %(tenants)s) i",
    "INSERT INTO documents (sha256, text, chars, tokens, kind)"
    " SELECT encode(sha256(('doc-' || i)::bytea), 'hex'), repeat('Invoice INV-' || i"
    " || ' ACME Tools GmbH, 3 x hammer at 12.50 EUR. ', 24), 1200, 320, 'text'"
    " FROM generate_series(0, %(docs)s - 1) i",
]
# One row per job of the chunk: a block of BLOCK jobs is one tenant's batch 7 times in 10.
_SLOT = f"""
CREATE TEMP TABLE slot ON COMMIT DROP AS
SELECT g, md5('j' || g)::uuid AS id, CASE WHEN batched THEN md5('b' || k)::uuid END AS batch_id,
  md5('t' || (1 + floor(%(tenants)s * power(CASE WHEN batched THEN ub ELSE ug END, 2)))::int
     )::uuid AS tenant_id,
  %(start)s::timestamptz + make_interval(secs => g * %(step)s) AS created_at,
  CASE WHEN g >= %(live)s THEN CASE WHEN mod(g, 40) = 0 THEN 'running' ELSE 'queued' END
       WHEN uv < 0.05 THEN 'failed' WHEN uv < 0.06 THEN 'cancelled' ELSE 'succeeded' END AS status,
  CASE WHEN ut < 0.7 THEN 'low' WHEN ut < 0.95 THEN 'medium' ELSE 'high' END AS tier
FROM (SELECT g, g / %(block)s AS k, mod(g / %(block)s, 10) < 7 AS batched,
        {U.format("g / %(block)s")} AS ub, {U.format("g")} AS ug,
        {U.format("g * 7 + 1")} AS uv, {U.format("g * 13 + 5")} AS ut
      FROM generate_series(%(lo)s::bigint, %(hi)s::bigint - 1) g) s
"""  # noqa: S608 - built from constants only
_BATCHES = """
INSERT INTO batches (id, tenant_id, schema_name, tier, total, metadata, created_at, finished_at)
SELECT batch_id, tenant_id, 'invoice@3', 'auto', count(*), '{}', min(created_at) - interval '1s',
       max(created_at) + interval '10 min'
FROM slot WHERE batch_id IS NOT NULL GROUP BY batch_id, tenant_id
"""
_MODEL = "CASE tier WHEN 'low' THEN 'gpt-5.6-luna' WHEN 'medium' THEN 'gpt-5.6-terra'"
_MODEL += " ELSE 'claude-sonnet-5-5' END"
_RESULT = (
    '{"issue_date": "2026-03-01", "due_date": "2026-03-31", "currency": "EUR", "vendor": {"name":'
    ' "ACME Tools GmbH", "address": "Hauptstrasse 1, 10115 Berlin", "vat_id": "DE123456789"},'
    ' "customer": {"name": "Globex Corp.", "address": "1 Main St, Springfield"}, "line_items":'
    ' [{"description": "hammer", "quantity": 3, "unit_price": 12.5, "amount": 37.5}]}'
)
_EVIDENCE = (
    "["
    + ", ".join(
        f'{{"field": "{f}", "verdict": "supported", "quote": "{f} as written in the document",'
        f' "start": {i * 40}, "end": {i * 40 + 24}, "confidence": 0.97}}'
        for i, f in enumerate(
            ("invoice_number", "issue_date", "vendor.name", "customer.name", "total")
        )
    )
    + "]"
)
_JOBS = f"""
INSERT INTO jobs (id, tenant_id, batch_id, idempotency_key, request_hash, document_sha256,
  filename, schema_name, schema_version, prompt_version, schema_hash, prompt_hash, tier,
  tier_reason, lane, status, attempts, model, reuse, cache_hit, result, evidence, confidence,
  review_state, document_fit, error_type, error_message, input_tokens, output_tokens, cost_usd,
  metadata, webhook_url, worker, lease_expires_at, created_at, dispatched_at, started_at,
  finished_at)
SELECT id, tenant_id, batch_id, CASE WHEN mod(g, 5) < 3 THEN 'inv-' || g END,
  md5('r' || g) || md5('q' || g),
  encode(sha256(('doc-' || mod(g * 7919, %(docs)s))::bytea), 'hex'),
  'invoice-' || g || '.pdf', 'invoice', '3', '2', md5('schema') || md5('v3'), md5('prompt') ||
  md5('v2'), tier, 'tokens 1830 <= 3000, fields 9 <= 16, depth 2 <= 2',
  CASE WHEN mod(g, 10) = 0 AND g < %(live)s THEN 'batch' ELSE 'realtime' END, status,
  CASE WHEN status = 'queued' THEN 0 WHEN mod(g, 33) = 0 THEN 2 ELSE 1 END,
  CASE WHEN status <> 'queued' THEN {_MODEL} END, false, false,
  CASE WHEN ok THEN jsonb_build_object('invoice_number', 'INV-' || g,
    'total', mod(g, 99999) / 100.0) || %(result)s::jsonb END,
  CASE WHEN ok THEN %(evidence)s::jsonb END,
  CASE WHEN ok THEN 0.55 + mod(g, 45) / 100.0 END,
  CASE WHEN ok AND mod(g, 50) = 0 THEN CASE WHEN g >= %(rows)s * 0.99 THEN 'pending'
    ELSE 'approved' END END, CASE WHEN ok THEN '{{"fit": 0.93, "kind": "invoice"}}'::jsonb END,
  CASE WHEN status = 'failed' THEN 'provider_error' END,
  CASE WHEN status = 'failed' THEN 'upstream 503 after 6 attempts' END,
  CASE WHEN fin THEN 1200 + mod(g * 31, 2400) ELSE 0 END,
  CASE WHEN fin THEN 150 + mod(g * 17, 400) ELSE 0 END,
  CASE WHEN fin THEN (1200 + mod(g * 31, 2400)) * 4e-7 + (150 + mod(g * 17, 400)) * 1.6e-6
    ELSE 0 END,
  jsonb_build_object('source', 'erp', 'customer_ref', 'C-' || mod(g, 5000)),
  CASE WHEN mod(g, 5) = 0 THEN 'https://hooks.example.com/docqueue/' || tenant_id END,
  CASE WHEN status <> 'queued' THEN tier || '@worker-' || mod(g, 8) END,
  CASE WHEN status = 'running' THEN now() + interval '60s' END, created_at,
  CASE WHEN status <> 'queued' OR mod(g, 40) = 1 THEN created_at + interval '1s' END,
  CASE WHEN status <> 'queued' THEN created_at + interval '2s' END,
  CASE WHEN fin THEN created_at + interval '6s' END
FROM (SELECT *, status = 'succeeded' AS ok, status NOT IN ('queued', 'running') AS fin FROM slot) s
"""  # noqa: S608 - built from constants only
# A call per started job, a second (re-ask) for 3 in 10; each call's budget hold beside it.
_CALLS = f"""
WITH calls AS (
  INSERT INTO llm_calls (job_id, tenant_id, attempt, seq, tier, provider, model, input_tokens,
    output_tokens, cached_tokens, cost_usd, latency_ms, outcome, status_code, lane, created_at)
  SELECT id, tenant_id, 1, c, tier, CASE tier WHEN 'high' THEN 'anthropic' ELSE 'openai' END,
    {_MODEL}, 1200 + mod(g * 31, 2400), 150 + mod(g * 17, 400), mod(g, 3) * 512,
    (1200 + mod(g * 31, 2400)) * 4e-7 + (150 + mod(g * 17, 400)) * 1.6e-6, 700 + mod(g * 7, 3000),
    CASE WHEN status = 'running' AND c = n THEN 'in_flight' WHEN c < n THEN 'validation_error'
      WHEN status = 'failed' THEN 'error' ELSE 'ok' END,
    CASE WHEN status = 'failed' AND c = n THEN 503 ELSE 200 END, 'realtime',
    created_at + make_interval(secs => 2 * c)
  FROM (SELECT *, CASE WHEN mod(g, 10) < 3 THEN 2 ELSE 1 END AS n FROM slot
        WHERE status <> 'queued') s, generate_series(1, n) c
  RETURNING job_id, tenant_id, cost_usd, outcome, created_at)
INSERT INTO budget_reservations (id, tenant_id, job_id, month, day, amount_usd, created_at,
  settled_at)
SELECT gen_random_uuid(), tenant_id, job_id, to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM'),
  to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD'), cost_usd * 2, created_at,
  CASE WHEN outcome <> 'in_flight' THEN created_at + interval '2s' END
FROM calls
"""  # noqa: S608 - built from constants only
_SECONDARY = """
SELECT indexrelid::regclass::text, pg_get_indexdef(indexrelid) FROM pg_index
WHERE indrelid::regclass::text = ANY(%s) AND NOT indisprimary AND NOT indisunique
"""
# storage/migrations/versions/0011_tier_queues.py _BACKFILL: the work list from the jobs.
_BACKFILL = """
INSERT INTO tier_queues (tier, tenant_id, head)
SELECT j.tier, j.tenant_id, min(j.created_at) FROM jobs j
WHERE j.status = 'queued' AND j.dispatched_at IS NULL AND j.parked_at IS NULL
GROUP BY j.tier, j.tenant_id
"""
TABLES = ("jobs", "llm_calls", "budget_reservations", "documents", "batches")

_SIZES = """
SELECT pg_size_pretty(pg_total_relation_size(oid)), pg_size_pretty(pg_table_size(oid)),
       pg_size_pretty(pg_indexes_size(oid)), to_char(reltuples, 'FM999,999,999,999')
FROM pg_class WHERE oid = %(t)s::regclass
"""
_INDEXES = """
SELECT indexrelid::regclass::text, pg_size_pretty(pg_relation_size(indexrelid)) FROM pg_index
WHERE indrelid IN ('jobs'::regclass, 'llm_calls'::regclass, 'budget_reservations'::regclass)
ORDER BY pg_relation_size(indexrelid) DESC
"""


def fill(dsn: str, *, rows: int, say: Callable[[str], None]) -> dict[str, float]:
    """Load tenants, documents, batches, jobs, calls and holds; seconds per step."""
    # Secondary indexes (not primary keys or unique constraints) are dropped for the load and
    # built again from their own definitions; autovacuum is off meanwhile (VACUUM ANALYZE
    # follows); as a superuser, FK checks and triggers are off too and the work list is
    # filled as migration 0011 does.
    took: dict[str, float] = {}
    with psycopg.connect(dsn, autocommit=True) as conn:
        for setting in ("synchronous_commit = off", "maintenance_work_mem = '1GB'"):
            conn.execute(f"SET {setting}")
        began = time.perf_counter()
        defs = conn.execute(_SECONDARY, (list(TABLES[:3]),)).fetchall()
        for table in TABLES[:3]:
            conn.execute(f"ALTER TABLE {table} SET (autovacuum_enabled = off)")
        for name, _ in defs:
            conn.execute(f"DROP INDEX {name}")
        replica = bool(one(conn, "SELECT rolsuper FROM pg_roles WHERE rolname = current_user"))
        if replica:  # no FK checks nor triggers for the load: its keys are right by construction
            conn.execute("SET session_replication_role = replica")
        for sql in _SETUP:
            conn.execute(sql, {"tenants": TENANTS, "docs": max(1_000, rows // 20)})
        row = conn.execute("SELECT now() - make_interval(days => %s)", (DAYS,)).fetchone()
        args: dict[str, Any] = {"tenants": TENANTS, "docs": max(1_000, rows // 20), "rows": rows}
        args |= {"start": row[0] if row else None, "step": DAYS * 86_400 / rows, "block": BLOCK}
        args |= {"live": rows - max(2_000, rows // 500), "result": _RESULT, "evidence": _EVIDENCE}
        for lo in range(0, rows, CHUNK):
            with conn.transaction():
                conn.execute(_SLOT, {**args, "lo": lo, "hi": min(rows, lo + CHUNK)})
                for sql in (_BATCHES, _JOBS, _CALLS):
                    conn.execute(sql, args)
            rate = (lo + CHUNK) / (time.perf_counter() - began)
            say(f"{min(rows, lo + CHUNK):,} jobs loaded ({rate:,.0f} jobs/s)")
        took["load (secondary indexes dropped)"] = time.perf_counter() - began
        for name, sql in defs:
            began = time.perf_counter()
            conn.execute(sql)
            took[f"CREATE INDEX {name}"] = time.perf_counter() - began
        if replica:  # what the jobs_tier_queues_insert trigger would have written
            conn.execute("SET session_replication_role = DEFAULT")
            conn.execute(_BACKFILL)
        say("indexes built; VACUUM ANALYZE")
        for table in TABLES:
            began = time.perf_counter()
            conn.execute(f"VACUUM (ANALYZE) {table}")
            took[f"VACUUM (ANALYZE) {table}"] = time.perf_counter() - began
            conn.execute(f"ALTER TABLE {table} RESET (autovacuum_enabled)")
        conn.execute("CHECKPOINT")
    return took


def sizes(dsn: str) -> list[str]:
    """Sizes of the big tables and their indexes, with autovacuum's trigger points."""
    out = ["| relation | total | heap + TOAST | indexes | reltuples |", "|---|---|---|---|---|"]
    with psycopg.connect(dsn) as conn:
        for table in TABLES:
            row = conn.execute(_SIZES, {"t": table}).fetchone() or ()
            out.append("| " + " | ".join(map(str, (table, *row))) + " |")
        out += ["", "| index | size |", "|---|---|"]
        out += [f"| {name} | {size} |" for name, size in conn.execute(_INDEXES).fetchall()]
        dead = float(one(conn, "SHOW autovacuum_vacuum_scale_factor"))
        inserted = float(one(conn, "SHOW autovacuum_vacuum_insert_scale_factor"))
        out.append(f"\nAutovacuum, scale factors {dead} (dead) and {inserted} (inserted):")
        for table in TABLES[:3]:
            n = float(one(conn, "SELECT reltuples FROM pg_class WHERE relname = %s", (table,)))
            out.append(f"- {table}: after {n * dead:,.0f} dead rows or {n * inserted:,.0f} inserts")
    return out


def one(conn: psycopg.Connection[Any], sql: str, params: Any = None) -> Any:
    """The first column of the first row."""
    row = conn.execute(sql, params).fetchone()
    if row is None:
        raise RuntimeError(f"no row for {sql}")
    return row[0]


def throwaway(root: Path) -> PostgresServer:
    """A started devstack Postgres under `root` (as `make bench`), tuned for a bulk load."""
    root.chmod(0o755)  # the postgres user must traverse it
    server = PostgresServer(data_dir=root / "pg", port=free_port())
    server.start()
    with psycopg.connect(server.url.replace("+psycopg", ""), autocommit=True) as conn:
        conn.execute("ALTER SYSTEM SET max_wal_size = '16GB'")  # no checkpoints mid-load
        conn.execute("ALTER SYSTEM SET checkpoint_timeout = '30min'")
        conn.execute("ALTER SYSTEM SET shared_buffers = '2GB'")  # a server's, not a test's
    server.restart()  # postgresql.auto.conf is read after devstack's docqueue.conf
    return server


def tenant_id(i: int) -> uuid.UUID:
    """Tenant i's id, as the fill makes it (md5('t' || i)::uuid): 1 is the biggest."""
    return uuid.UUID(hashlib.md5(f"t{i}".encode()).hexdigest())  # noqa: S324 - not a secret
