"""The whole pipeline with DATABASE_URL through a real PgBouncer in transaction mode.

API, scheduler, workers, webhooks and batcher all reach Postgres through Debian's
pgbouncer (`pool_mode = transaction`, started by the suite). In the first stack the
scheduler LISTENs and the leaders hold their locks on DATABASE_LISTEN_URL, a direct URL;
in the second only the pooler is given, so the scheduler polls and says so in its log.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator

import psycopg
import pytest

from scripts.devstack.pgbouncer import PgBouncerServer
from tests.support.stacks import LiveStack, StackFactory, WorkerSpec
from tests.support.waits import wait_batch, wait_until

pytestmark = pytest.mark.e2e

JOBS = 120


def _through(pgbouncer: PgBouncerServer, *, listen: bool) -> Callable[[str], dict[str, str]]:
    def env(direct: str) -> dict[str, str]:
        pooled = pgbouncer.database_url(direct.rsplit("/", 1)[1])
        if listen:
            return {"DATABASE_URL": pooled, "DATABASE_LISTEN_URL": direct}
        return {"DATABASE_URL": pooled, "DATABASE_POOL_MODE": "transaction"}

    return env


@pytest.fixture(scope="module")
def listening(stack_factory: StackFactory, pgbouncer: PgBouncerServer) -> Iterator[LiveStack]:
    """Every process on the pooler; LISTEN and the leaders' locks on the direct URL."""
    made = stack_factory(
        name="bouncer",
        workers=[WorkerSpec("w1", concurrency=8)],
        webhooks=True,
        batcher=True,
        env_for_db=_through(pgbouncer, listen=True),
    )
    yield made
    made.close()


@pytest.fixture(scope="module")
def polling(stack_factory: StackFactory, pgbouncer: PgBouncerServer) -> Iterator[LiveStack]:
    """Only the pooler's URL: no session for LISTEN, so the scheduler polls."""
    made = stack_factory(
        name="bouncerpoll",
        workers=[WorkerSpec("w1", concurrency=8)],
        env_for_db=_through(pgbouncer, listen=False),
    )
    yield made
    made.close()


def _transactions(pgbouncer: PgBouncerServer, database: str) -> int:
    """PgBouncer's own count of transactions it pooled for `database` (admin console)."""
    admin = f"host=127.0.0.1 port={pgbouncer.port} dbname=pgbouncer user=docqueue"
    with psycopg.connect(admin, autocommit=True) as conn:
        result = conn.pgconn.exec_(b"SHOW STATS")  # the console speaks the simple protocol
        columns = [result.fname(i) for i in range(result.nfields)]
        rows = [
            {(columns[c] or b"").decode(): result.get_value(r, c) for c in range(result.nfields)}
            for r in range(result.ntuples)
        ]
    for row in rows:
        if row["database"] == database.encode():
            return int(row["total_xact_count"] or b"0")
    return 0


def _run_batch(stack: LiveStack, name: str) -> tuple[dict[str, object], list[dict[str, object]]]:
    tenant = stack.tenant(name, concurrency=8)
    docs = [
        {"text": f"Memo {i}: the report is due 2026-03-01.", "key": f"k{i}"} for i in range(JOBS)
    ]
    with stack.client(tenant, timeout=60) as client:
        made = client.post("/v1/batches", json={"schema": "document_summary", "documents": docs})
        assert made.status_code == 202, made.text
        batch_id = made.json()["id"]
        summary = wait_batch(client, batch_id, timeout=120)
        body = client.get(f"/v1/batches/{batch_id}/results")
        assert body.status_code == 200, body.text
    lines = [json.loads(line) for line in body.text.splitlines() if line]
    return summary, lines


def _nonzero(summary: dict[str, object]) -> dict[str, object]:
    counts = summary["counts"]
    assert isinstance(counts, dict)
    return {status: n for status, n in counts.items() if n}


def _log(stack: LiveStack, name: str) -> str:
    return (stack.stack.run_dir / f"{name}.log").read_text(errors="replace")


def test_a_batch_succeeds_with_every_process_behind_a_transaction_pooler(
    listening: LiveStack, pgbouncer: PgBouncerServer
) -> None:
    database = listening.db_url.rsplit("/", 1)[1]
    before = _transactions(pgbouncer, database)
    summary, lines = _run_batch(listening, "bouncer")
    assert _nonzero(summary) == {"succeeded": JOBS}, summary
    assert len(lines) == JOBS
    assert all(line["status"] == "succeeded" and line["result"] for line in lines)
    # claims, finishes, the ledger and the API's reads all went through the pooler
    assert _transactions(pgbouncer, database) - before >= 3 * JOBS
    wait_until(lambda: "batcher_started" in _log(listening, "batcher"), timeout=30, what="batcher")
    scheduler = _log(listening, "scheduler")
    assert "scheduler_leader" in scheduler  # the lock held on the direct session
    assert "scheduler_polling" not in scheduler
    assert "prepared statement" not in _log(listening, "w1")


def test_a_scheduler_given_only_the_pooler_polls_and_says_so(polling: LiveStack) -> None:
    summary, lines = _run_batch(polling, "bouncerpoll")
    assert _nonzero(summary) == {"succeeded": JOBS}, summary
    assert len(lines) == JOBS
    scheduler = _log(polling, "scheduler")
    assert "scheduler_polling" in scheduler
    assert "DATABASE_LISTEN_URL is not set" in scheduler
    assert "scheduler_leader" not in scheduler  # no session to hold the lock on
