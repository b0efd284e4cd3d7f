"""One rule decides when retention and erasure may delete a job: nothing still bills it."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

from sqlalchemy import select, update

from storage import erasure, retention
from storage.db import session_scope
from storage.lane_models import LaneItem
from storage.models import Batch, BudgetReservation, Job
from storage.retention_models import Erasure
from tests.support.store_seed import tenant_with_jobs

LATER = dt.datetime.now(dt.UTC) + dt.timedelta(days=1)


def _seed(pg_url: str) -> tuple[uuid.UUID, uuid.UUID, dict[str, uuid.UUID]]:
    """A batch of four finished jobs: one held by a reservation, one packed into a provider
    batch, one still running, one settled."""
    tenant_id, ids = tenant_with_jobs(pg_url, prefix="deletion", n=4)
    jobs = dict(zip(("reserved", "packed", "running", "settled"), ids, strict=True))
    with session_scope(pg_url) as session:
        batch = Batch(tenant_id=tenant_id, schema_name="invoice@1", tier="low", total=4)
        session.add(batch)
        session.flush()
        session.execute(
            update(Job).where(Job.id.in_(ids)).values(status="succeeded", batch_id=batch.id)
        )
        session.execute(update(Job).where(Job.id == jobs["running"]).values(status="running"))
        session.add(
            BudgetReservation(
                tenant_id=tenant_id,
                job_id=jobs["reserved"],
                month="2026-12",
                day="2026-12-02",
                amount_usd=Decimal("0.01"),
            )
        )
        session.add(
            LaneItem(
                custom_id=uuid.uuid4().hex,
                job_id=jobs["packed"],
                tenant_id=tenant_id,
                seq=1,
                provider="openai",
                model="m",
                body={},
                request_sha="0" * 64,
                request_bytes=2,
                state="packed",
                reserved_usd=Decimal("0.01"),
            )
        )
        return tenant_id, batch.id, jobs


def _left(pg_url: str, tenant_id: uuid.UUID) -> set[uuid.UUID]:
    with session_scope(pg_url) as session:
        return set(session.scalars(select(Job.id).where(Job.tenant_id == tenant_id)))


def test_retention_deletes_only_the_job_that_nothing_still_bills(pg_url: str) -> None:
    tenant_id, _, jobs = _seed(pg_url)
    with session_scope(pg_url) as session:
        done = retention.expire_chunk(session=session, tenant_id=tenant_id, older_than=LATER)
    assert done.jobs == 1
    assert _left(pg_url, tenant_id) == {jobs["reserved"], jobs["packed"], jobs["running"]}


def test_erasure_waits_while_any_job_of_the_batch_is_still_billed(pg_url: str) -> None:
    tenant_id, batch_id, jobs = _seed(pg_url)
    with session_scope(pg_url) as session:
        session.add(Erasure(batch_id=batch_id, tenant_id=tenant_id))
    # Each in turn is what still bills the batch; settling it leaves the next one.
    settle = {
        "running": update(Job).where(Job.id == jobs["running"]).values(status="failed"),
        "reserved": update(BudgetReservation)
        .where(BudgetReservation.job_id == jobs["reserved"])
        .values(settled_at=LATER),
        "packed": update(LaneItem).where(LaneItem.job_id == jobs["packed"]).values(state="done"),
    }
    for still_billed, statement in settle.items():
        with session_scope(pg_url) as session:
            assert erasure.erase_step(session=session, batch_id=batch_id).busy, still_billed
        with session_scope(pg_url) as session:
            session.execute(statement)
    with session_scope(pg_url) as session:
        step = erasure.erase_step(session=session, batch_id=batch_id)
    assert (step.busy, step.jobs) == (False, 4)
    assert _left(pg_url, tenant_id) == set()
