"""Do `jobs` and `llm_calls` need monthly partitioning? Fill them big, EXPLAIN the hot queries.

    nice -n 10 python -m scripts.bench.partitions --rows 10000000 [--dsn URL] [--out FILE]

Fills jobs, llm_calls and budget_reservations in SQL (scripts/bench/partition_data.py), then
times and EXPLAINs the statements the real storage verbs send (captured as they run), a
retention delete (rolled back), and reports sizes and autovacuum points, in Markdown. Without
--dsn it runs on a throwaway Postgres in a temp dir (scripts/devstack/postgres.py, as `make
bench`), migrated to head and deleted at the end.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import re
import shutil
import signal
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import Engine, event
from sqlalchemy.orm import Session

from api.views.exports import RESULT_PAGE
from scripts.bench import partition_data as data
from scripts.bench.scale import pick_latency
from storage import dispatch, picks, results, usage
from storage import jobs as job_store
from storage.db import get_engine
from storage.migrate import upgrade
from storage.models import Batch
from storage.rows import Cursor
from tasks.dispatch.scheduler import PUBLISH_CHUNK

CUT_DAYS, DOOMED, REPS, PAGE = 90, 5_000, 50, RESULT_PAGE  # cut, delete chunk, runs, page
_DOOMED = {  # the retention delete, one chunk (proposed; no such job in the code yet)
    t: f"WITH doomed AS (SELECT id FROM {t} WHERE tenant_id = %(t)s AND created_at < %(cut)s"  # noqa: S608
    f" ORDER BY created_at LIMIT {DOOMED} FOR UPDATE SKIP LOCKED)"
    f" DELETE FROM {t} x USING doomed d WHERE x.id = d.id"
    for t in ("jobs", "llm_calls")
}
_OLD = "SELECT count(*) FROM {table} WHERE tenant_id = %(t)s AND created_at < %(cut)s"
_BATCH = (
    "SELECT id FROM batches WHERE tenant_id = %s AND total >= 2 * %s"
    " AND created_at < now() - interval '365 days' ORDER BY created_at DESC LIMIT 1"
)
# FKs into jobs whose column leads no index: a delete of a job scans the whole table.
_UNINDEXED_FKS = """
SELECT c.conrelid::regclass::text, a.attname FROM pg_constraint c
JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]
WHERE c.contype = 'f' AND c.confrelid = 'jobs'::regclass AND NOT EXISTS (
  SELECT 1 FROM pg_index i WHERE i.indrelid = c.conrelid AND i.indkey[0] = c.conkey[1])
"""
_DEAD = "SELECT n_dead_tup FROM pg_stat_user_tables WHERE relname = 'jobs'"
_SHOWN = ("server_version", "shared_buffers", "work_mem", "fsync", "max_wal_size")
_MS = re.compile(r"Execution Time: ([\d.]+) ms")


def capture(engine: Engine, verb: Callable[[Session], object]) -> list[tuple[str, Any]]:
    """The statements a storage verb sends, with their parameters (its work rolled back)."""
    seen: list[tuple[str, Any]] = []

    def hook(_c: Any, _cur: Any, statement: str, params: Any, *_: Any) -> None:
        if "pg_advisory" not in statement:
            seen.append((statement, params))

    event.listen(engine, "before_cursor_execute", hook)
    try:
        with Session(engine) as session:
            verb(session)
            session.rollback()
    finally:
        event.remove(engine, "before_cursor_execute", hook)
    return seen


def explain(engine: Engine, statements: list[tuple[str, Any]]) -> list[str]:
    """`EXPLAIN (ANALYZE, BUFFERS)` of each statement in turn, in one rolled-back transaction."""
    plans = []
    with engine.connect() as conn:
        for sql, params in statements:
            found = conn.exec_driver_sql(f"EXPLAIN (ANALYZE, BUFFERS) {sql}", params).all()
            plans.append("\n".join(str(r[0]) for r in found))
        conn.rollback()
    return plans


def timed(engine: Engine, verb: Callable[[Session], object], reps: int = REPS) -> list[float]:
    """Milliseconds of `reps` runs of a verb, each in its own rolled-back transaction."""
    took = []
    for _ in range(reps + 3):
        with Session(engine) as session:
            began = time.perf_counter()
            verb(session)
            took.append((time.perf_counter() - began) * 1000)
            session.rollback()
    return took[3:]


def _round(session: Session) -> None:
    """The Postgres side of one scheduler round for tier low (as scripts/bench/scale.py)."""
    picks.serialize_rounds(session=session)
    dispatch.outstanding(session=session, tier="low")
    picked = picks.pick(session=session, tier="low", limit=PUBLISH_CHUNK)
    dispatch.mark_dispatched(session=session, job_ids=picked.job_ids)
    picks.refresh_heads(session=session, tier="low", tenants=picked.tenants)


def hot_queries(dsn: str, url: str, rows: int) -> tuple[list[str], list[str]]:
    """Table rows (verb, p50, max, plan ms) and the plans of the platform's hot statements."""
    engine = get_engine(url)
    big, mid = data.tenant_id(1), data.tenant_id(500)
    job_id = uuid.UUID(hashlib.md5(f"j{rows // 3}".encode()).hexdigest())  # noqa: S324 - as SQL
    with psycopg.connect(dsn) as conn:
        queued = data.one(conn, "SELECT id FROM jobs WHERE status = 'queued' LIMIT 1")
        owner = data.one(conn, "SELECT tenant_id FROM jobs WHERE id = %s", (job_id,))
        batch_id = data.one(conn, _BATCH, (big, PAGE))
    with Session(engine) as session:
        batch = session.get(Batch, batch_id)
        if batch is None:
            raise RuntimeError(f"batch {batch_id} is gone")
        session.expunge(batch)
        after = results.result_page(session=session, batch=batch, after=None, limit=PAGE)[-1]
    first = (dt.date.today().replace(day=1) - dt.timedelta(days=170)).replace(day=1)
    last = (first + dt.timedelta(days=32)).replace(day=1) - dt.timedelta(days=1)

    def page(cursor: Cursor | None) -> Callable[[Session], object]:
        return lambda s: results.result_page(session=s, batch=batch, after=cursor, limit=PAGE)

    def spend(tenant: uuid.UUID) -> Callable[[Session], object]:
        return lambda s: usage.spend_by_day(session=s, tenant_id=tenant, since=first, until=last)

    verbs: dict[str, Callable[[Session], object]] = {
        "claim_with_text of a queued job": lambda s: job_store.claim_with_text(
            session=s, job_id=queued, worker="bench", lease_s=60
        ),
        f"result_page 1 of a {data.BLOCK:,}-job batch, {PAGE:,} rows": page(None),
        "result_page 2 (keyset cursor after page 1)": page(after.cursor),
        "get_job by id (GET /v1/jobs/{id})": lambda s: job_store.get_job(
            session=s, tenant_id=owner, job_id=job_id
        ),
        f"spend_by_day {first:%Y-%m}, biggest tenant": spend(big),
        f"spend_by_day {first:%Y-%m}, median tenant": spend(mid),
    }
    table, plans = [], []
    for name, verb in verbs.items():
        row, found = measure(engine, name, verb)
        table.append(row)
        plans += found
    return table, plans


def measure(engine: Engine, name: str, verb: Callable[[Session], object]) -> tuple[str, list[str]]:
    """A verb's table row (p50, max, plan ms) and plans: EXPLAIN first, then REPS timed runs."""
    found = explain(engine, capture(engine, verb))
    took = timed(engine, verb)
    plan_ms = sum(execution_ms(p) for p in found)
    row = f"| {name} | {statistics.median(took):.2f} | {max(took):.2f} | {plan_ms:.2f} |"
    return row, [f"### {name}", *(f"```\n{p}\n```" for p in found)]


def scheduler(dsn: str, url: str) -> tuple[list[str], list[str]]:
    """The scheduler's round: clean, after the scale bench's 200 rolled-back rounds, vacuumed."""
    engine, name = get_engine(url), "scheduler round, tier low"
    table, plans = [], []
    for when in ("after the load's VACUUM", "after 260 rolled-back rounds", "after VACUUM jobs"):
        if when.endswith("VACUUM jobs"):
            with psycopg.connect(dsn, autocommit=True) as conn:
                dead = data.one(conn, _DEAD)
                began = time.perf_counter()
                conn.execute("VACUUM jobs")
                took = time.perf_counter() - began
            table.append(f"| VACUUM jobs with {dead:,} dead rows | {took * 1000:,.0f} | | |")
        row, found = measure(engine, f"{name} {when}", _round)
        table.append(row)
        plans += found
        if when.startswith("after the load"):
            p50, p99, _ = pick_latency(url, reps=200)  # the `make bench --only scale` timing
            table.append(f"| scripts/bench/scale.py pick_latency, 205 rounds | {p50:.2f} | "
                         f"p99 {p99:.2f} | |")  # fmt: skip
    return table, plans


def retention(dsn: str) -> list[str]:
    """The chunked retention delete for the biggest tenant, in a rolled-back transaction."""
    big = data.tenant_id(1)
    out = [f"Tenant {big} (the biggest); cut = now() - {CUT_DAYS} days; chunks of {DOOMED:,}."]
    with psycopg.connect(dsn) as conn:
        args = {
            "t": big,
            "cut": data.one(conn, "SELECT now() - make_interval(days => %s)", (CUT_DAYS,)),
        }
        for table in _DOOMED:
            old = data.one(conn, _OLD.format(table=table), args)
            out.append(f"- {table}: {old:,} rows older than the cut")
        victim = data.one(
            conn, _OLD.format(table="jobs").replace("count(*)", "min(id::text)"), args
        )
        for table, column in conn.execute(_UNINDEXED_FKS).fetchall():
            sql = f"DELETE FROM {table} WHERE {column} = %(id)s"  # noqa: S608 - catalog names
            out += [
                f"\nFK `{table}.{column}` -> jobs has no index: ON DELETE CASCADE runs `{sql}`"
                " once per deleted job:",
                f"```\n{_plan(conn, sql, {'id': victim})}\n```",
            ]
            began = time.perf_counter()
            conn.execute(f"CREATE INDEX tmp_{table}_{column} ON {table} ({column})")
            took = time.perf_counter() - began
            out.append(f"Created `tmp_{table}_{column}` in this transaction: {took:.1f} s.")
        for table, sql in _DOOMED.items():
            conn.execute("SAVEPOINT chunks")
            found = [_plan(conn, sql, args) for _ in range(3)]
            each = ", ".join(f"{execution_ms(p):,.0f}" for p in found)
            out += [f"\n{table}: 3 chunks in a row: {each} ms; the first:"]
            out += [f"```\n{sql}\n\n{found[0]}\n```"]
            conn.execute("ROLLBACK TO SAVEPOINT chunks")
        conn.rollback()
    return out


def _plan(conn: psycopg.Connection[Any], sql: str, params: Any) -> str:
    """`EXPLAIN (ANALYZE, BUFFERS)` of one statement on a psycopg connection."""
    return "\n".join(str(r[0]) for r in conn.execute(f"EXPLAIN (ANALYZE, BUFFERS) {sql}", params))


def execution_ms(plan: str) -> float:
    """A plan's `Execution Time` in ms (triggers included)."""
    found = _MS.search(plan)
    return float(found.group(1)) if found else 0.0


def report(dsn: str, url: str, rows: int, say: Callable[[str], None]) -> str:
    """Fill, measure and return the Markdown summary."""
    took = data.fill(dsn, rows=rows, say=say)
    say("measuring the hot queries")
    table, plans = scheduler(dsn, url)
    more, plans_more = hot_queries(dsn, url, rows)
    table, plans = table + more, plans + plans_more
    say("retention delete (rolled back)")
    kept = retention(dsn)
    with psycopg.connect(dsn) as conn:
        setup = ", ".join(f"{k} {data.one(conn, f'SHOW {k}')}" for k in _SHOWN)
    return "\n".join([
        f"# Partitioning check: {rows:,} jobs over {data.DAYS} days, {data.TENANTS:,} tenants",
        f"\n{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC; {setup}.\n\n## Load\n",
        *(f"- {k}: {v:,.1f} s" for k, v in took.items()),
        "\n## Sizes\n", *data.sizes(dsn),
        f"\n## Hot queries ({REPS} runs each, rolled back)\n",
        "| verb | p50 ms | max ms | EXPLAIN ANALYZE ms (sum) |", "|---|---|---|---|", *table,
        "\n## Retention delete\n", *kept, "\n## Plans\n", *plans,
    ])  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    """Run on --dsn or a throwaway Postgres; print the Markdown (and write it to --out)."""
    parser = argparse.ArgumentParser(prog="python -m scripts.bench.partitions", description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000, help="jobs to insert")
    parser.add_argument("--dsn", help="an empty docqueue database (migrated to head here)")
    parser.add_argument("--out", type=Path, help="also write the Markdown here")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # run the cleanup below

    def say(line: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] {line}", file=sys.stderr, flush=True)

    root, server = None, None
    try:
        dsn = args.dsn
        if dsn is None:
            root = Path(tempfile.mkdtemp(prefix="docqueue-partitions-"))
            server = data.throwaway(root)
            dsn = server.url.replace("+psycopg", "")
        url = dsn.replace("postgresql://", "postgresql+psycopg://", 1)
        upgrade(url=url)
        with psycopg.connect(dsn) as conn:
            if data.one(conn, "SELECT count(*) FROM jobs"):
                parser.error("the database already has jobs: give an empty one")
        text = report(dsn, url, args.rows, say)
    finally:
        if server is not None:
            server.destroy()
        if root is not None:
            shutil.rmtree(root, ignore_errors=True)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
