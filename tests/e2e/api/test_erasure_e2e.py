"""Right to erasure (DELETE /v1/batches/{id}) and per-tenant retention, on a real stack.

The scheduler's housekeeping sweeps every half second here. Erasure must leave no row
anywhere that holds the erased batch's text, keep the documents another batch still
uses, and keep spend exact. Retention ages out a tenant's old jobs the same way.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import text

from tests.support.stacks import LiveStack, StackFactory, WorkerSpec
from tests.support.tenants import Tenant
from tests.support.waits import wait_batch, wait_until

pytestmark = pytest.mark.e2e

ONLY_A = "Memo {i}: QUOKKA-{i}-ERASE moves the Oslo office on 2026-06-01; owner Kari Nordmann."
SHARED = "Memo {i}: the shared handbook chapter {i} is due 2026-07-01; owner the HR team."
TEXT_TYPES = ("text", "character varying", "jsonb", "json", "bytea")
AGE_OLD_BATCH = (
    "UPDATE llm_calls SET created_at = created_at - interval '3 days'"
    " WHERE job_id IN (SELECT id FROM jobs WHERE batch_id = :b)",
    "UPDATE jobs SET created_at = created_at - interval '3 days' WHERE batch_id = :b",
    "UPDATE batches SET created_at = created_at - interval '3 days' WHERE id = :b",
)


@pytest.fixture(scope="module")
def stack(stack_factory: StackFactory) -> Iterator[LiveStack]:
    """A stack whose scheduler sweeps erasures and retention every half second."""
    made = stack_factory(
        name="erasure",
        workers=[WorkerSpec("w1", concurrency=8)],
        overrides={"retention": {"every_s": 0.5, "chunk": 7}},  # several chunks per batch
    )
    yield made
    made.close()


def _batch(stack: LiveStack, tenant: Tenant, docs: list[dict[str, Any]]) -> str:
    with stack.client(tenant, timeout=60) as client:
        made = client.post("/v1/batches", json={"schema": "document_summary", "documents": docs})
        assert made.status_code == 202, made.text
        batch_id: str = made.json()["id"]
        summary = wait_batch(client, batch_id, timeout=90)
    assert summary["counts"]["succeeded"] == len(docs), summary
    return batch_id


def _usage(stack: LiveStack, tenant: Tenant) -> dict[str, Any]:
    today = dt.datetime.now(dt.UTC).date()
    since = (today - dt.timedelta(days=10)).isoformat()
    with stack.client(tenant) as client:
        resp = client.get("/v1/usage", params={"since": since, "until": today.isoformat()})
    assert resp.status_code == 200, resp.text
    body: dict[str, Any] = resp.json()
    return body


def _rows_holding(stack: LiveStack, needle: str) -> list[str]:
    """Every `table.column` of the database with a value that contains `needle`."""
    found = []
    with stack.session() as session:
        columns = session.execute(
            text(
                "SELECT table_name, column_name FROM information_schema.columns"
                " WHERE table_schema = 'public' AND data_type = ANY(:types)"
            ),
            {"types": list(TEXT_TYPES)},
        ).all()
        for table, column in columns:
            hit = session.execute(
                text(f'SELECT 1 FROM "{table}" WHERE "{column}"::text LIKE :n LIMIT 1'),  # noqa: S608 - names from the catalog
                {"n": f"%{needle}%"},
            ).first()
            if hit is not None:
                found.append(f"{table}.{column}")
    return found


def _count(stack: LiveStack, sql: str, **params: Any) -> int:
    with stack.session() as session:
        return int(session.execute(text(sql), params).scalar_one())


def test_erasing_a_batch_leaves_no_row_with_its_text_and_keeps_what_another_uses(
    stack: LiveStack,
) -> None:
    tenant = stack.tenant("eraser")
    only_a = [{"text": ONLY_A.format(i=i), "key": f"a{i}"} for i in range(20)]
    shared = [{"text": SHARED.format(i=i), "key": f"s{i}"} for i in range(5)]
    batch_a = _batch(stack, tenant, only_a + shared)
    batch_b = _batch(stack, tenant, [{**d, "key": f"b{i}"} for i, d in enumerate(shared)])
    before = _usage(stack, tenant)
    assert before["totals"]["calls"] >= 30
    assert _rows_holding(stack, "QUOKKA-3-ERASE")  # the probe finds the text before

    with stack.client(tenant) as client:
        asked = client.delete(f"/v1/batches/{batch_a}")
        assert asked.status_code == 202, asked.text
        assert asked.json()["documents_kept"] == len(shared)
        gone = client.get(f"/v1/batches/{batch_a}")
        assert gone.status_code == 410, gone.text
        assert gone.json()["error"]["type"] == "erased"
        assert client.get(f"/v1/batches/{batch_a}/results").status_code == 410

        def completed() -> dict[str, Any] | None:
            body: dict[str, Any] = client.get(f"/v1/batches/{batch_a}/erasure").json()
            return body if body["state"] == "completed" else None

        done = wait_until(completed, timeout=30, what="the erasure to complete")
        again = client.delete(f"/v1/batches/{batch_a}")
        assert again.status_code == 202
        assert again.json()["state"] == "completed"
        kept = client.get(f"/v1/batches/{batch_b}/results")
    assert done["jobs_deleted"] == len(only_a) + len(shared)
    assert done["documents_deleted"] == len(only_a)
    for i in range(len(only_a)):
        assert _rows_holding(stack, f"QUOKKA-{i}-ERASE") == []
    shas = [hashlib.sha256(d["text"].encode()).hexdigest() for d in shared]
    assert _count(stack, "SELECT count(*) FROM documents WHERE sha256 = ANY(:s)", s=shas) == 5
    assert _count(stack, "SELECT count(*) FROM batches WHERE id = :b", b=uuid.UUID(batch_a)) == 0
    assert kept.status_code == 200
    assert len(kept.text.splitlines()) == len(shared)
    assert _usage(stack, tenant) == before  # ledger detail folded into daily totals


def test_another_tenant_cannot_erase_a_batch_it_does_not_own(stack: LiveStack) -> None:
    owner = stack.tenant("owner")
    batch = _batch(stack, owner, [{"text": SHARED.format(i=99), "key": "x"}])
    with stack.client(stack.bob) as client:
        resp = client.delete(f"/v1/batches/{batch}")
    assert resp.status_code == 404, resp.text
    with stack.client(owner) as client:
        assert client.get(f"/v1/batches/{batch}").status_code == 200


def test_retention_ages_out_old_jobs_and_keeps_spend_and_recent_work(stack: LiveStack) -> None:
    tenant = stack.tenant("forgetful")
    old = _batch(
        stack,
        tenant,
        [{"text": f"Old memo {i}: OLDWALRUS-{i}.", "key": f"o{i}"} for i in range(10)],
    )
    new = _batch(
        stack, tenant, [{"text": f"New memo {i}: NEWWALRUS-{i}.", "key": f"n{i}"} for i in range(3)]
    )
    with stack.session() as session:  # the first batch ran three days ago
        for sql in AGE_OLD_BATCH:
            session.execute(text(sql), {"b": uuid.UUID(old)})
    before = _usage(stack, tenant)
    with stack.client(tenant) as client:
        resp = client.patch("/v1/settings", json={"retention_days": 2})
        assert resp.status_code == 200, resp.text
        assert resp.json()["retention_days"] == 2
        wait_until(
            lambda: client.get(f"/v1/batches/{old}").status_code == 404,
            timeout=30,
            what="the old batch to age out",
        )
        assert client.get(f"/v1/batches/{new}").status_code == 200
    assert _rows_holding(stack, "OLDWALRUS-4") == []
    assert _rows_holding(stack, "NEWWALRUS-1")
    assert _usage(stack, tenant) == before
